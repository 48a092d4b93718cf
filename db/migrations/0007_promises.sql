CREATE TABLE "scenarios" (
	"scenario" text PRIMARY KEY NOT NULL,
	"use_case_no" integer,
	"title" text NOT NULL,
	"pnp_approved" boolean NOT NULL,
	"ignore_line" text NOT NULL,
	"default_urgency" text,
	"next_step_type" text,
	"retired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notification_events" DROP CONSTRAINT "notification_events_state_ck";--> statement-breakpoint
ALTER TABLE "consent_ledger" ALTER COLUMN "line_user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "members" ADD COLUMN "erased_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "sms_parts" integer;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "purged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "ignore_line" text;--> statement-breakpoint
ALTER TABLE "notification_events" ADD CONSTRAINT "notification_events_state_ck" CHECK (state in ('accepted', 'queued', 'sent', 'delivered', 'fallback_sms', 'sms_sent', 'delivered_late', 'undelivered', 'undeliverable', 'failed', 'cancelled', 'rerouted', 'retry_scheduled', 'push_sent', 'push_failed', 'sms_cancelled', 'seen', 'delivery_received', 'pnp_resend', 'sms_quiet_hours'));
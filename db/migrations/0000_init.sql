CREATE TABLE "bills" (
	"bill_id" text PRIMARY KEY NOT NULL,
	"member_id" text NOT NULL,
	"status" text NOT NULL,
	"amount_twd" numeric(12, 2) NOT NULL,
	"period" text,
	"issued_at" timestamp with time zone,
	"due_at" timestamp with time zone,
	"payment_url" text,
	"items" jsonb,
	"detail" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "binding_tokens" (
	"jti" text PRIMARY KEY NOT NULL,
	"member_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_by_line_user_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consent_ledger" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"member_id" text NOT NULL,
	"line_user_id" text NOT NULL,
	"action" text NOT NULL,
	"purpose" text NOT NULL,
	"notice_version" text NOT NULL,
	"method" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "friend_prompts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"line_user_id" text NOT NULL,
	"notification_id" uuid,
	"prompted_at" timestamp with time zone NOT NULL,
	"converted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "line_users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"friend" boolean DEFAULT false NOT NULL,
	"is_unblocked" boolean,
	"followed_at" timestamp with time zone,
	"unfollowed_at" timestamp with time zone,
	"state_event_at" timestamp with time zone,
	"state_source" text,
	"last_message_at" timestamp with time zone,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "members" (
	"member_id" text PRIMARY KEY NOT NULL,
	"phone_e164" text,
	"phone_hash" text,
	"name" text,
	"line_user_id" text,
	"bound_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"state" text NOT NULL,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" uuid PRIMARY KEY NOT NULL,
	"api_key_id" text,
	"idempotency_key" text,
	"request_hash" text,
	"batch_id" uuid,
	"member_id" text,
	"phone_e164" text,
	"phone_hash" text,
	"line_user_id" text,
	"scenario" text NOT NULL,
	"urgency" text NOT NULL,
	"content" jsonb NOT NULL,
	"next_step" jsonb,
	"sms" jsonb,
	"status" text NOT NULL,
	"channel" text,
	"route" jsonb,
	"due_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"retry_key" uuid,
	"delivery_tag" text,
	"pnp_call_started_at" timestamp with time zone,
	"sms_deadline_at" timestamp with time zone,
	"sms_call_started_at" timestamp with time zone,
	"sms_sent_at" timestamp with time zone,
	"sms_reference" text,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"seen_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"order_id" text PRIMARY KEY NOT NULL,
	"member_id" text NOT NULL,
	"status" text NOT NULL,
	"items" jsonb NOT NULL,
	"amount_twd" numeric(12, 2) NOT NULL,
	"ordered_at" timestamp with time zone,
	"delivery_eta" timestamp with time zone,
	"tracking_url" text,
	"detail" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "otp_challenges" (
	"id" uuid PRIMARY KEY NOT NULL,
	"line_user_id" text NOT NULL,
	"phone_hash" text NOT NULL,
	"code_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"consumed_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sms_outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"purpose" text NOT NULL,
	"phone_hash" text NOT NULL,
	"provider" text NOT NULL,
	"status" text NOT NULL,
	"provider_reference" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"webhook_event_id" text NOT NULL,
	"type" text NOT NULL,
	"event_timestamp" timestamp with time zone,
	"event" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"retry_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "bills_member_idx" ON "bills" USING btree ("member_id");--> statement-breakpoint
CREATE INDEX "consent_ledger_member_idx" ON "consent_ledger" USING btree ("member_id");--> statement-breakpoint
CREATE INDEX "consent_ledger_line_user_idx" ON "consent_ledger" USING btree ("line_user_id");--> statement-breakpoint
CREATE INDEX "friend_prompts_user_idx" ON "friend_prompts" USING btree ("line_user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "members_line_user_uq" ON "members" USING btree ("line_user_id");--> statement-breakpoint
CREATE INDEX "members_phone_hash_idx" ON "members" USING btree ("phone_hash");--> statement-breakpoint
CREATE INDEX "notification_events_notification_idx" ON "notification_events" USING btree ("notification_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_idem_uq" ON "notifications" USING btree ("api_key_id","idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_delivery_tag_uq" ON "notifications" USING btree ("delivery_tag");--> statement-breakpoint
CREATE INDEX "notifications_due_idx" ON "notifications" USING btree ("due_at") WHERE "notifications"."due_at" is not null;--> statement-breakpoint
CREATE INDEX "notifications_created_idx" ON "notifications" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "notifications_member_idx" ON "notifications" USING btree ("member_id");--> statement-breakpoint
CREATE INDEX "orders_member_idx" ON "orders" USING btree ("member_id");--> statement-breakpoint
CREATE INDEX "otp_line_user_idx" ON "otp_challenges" USING btree ("line_user_id","created_at");--> statement-breakpoint
CREATE INDEX "otp_phone_idx" ON "otp_challenges" USING btree ("phone_hash","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_events_event_id_uq" ON "webhook_events" USING btree ("webhook_event_id");--> statement-breakpoint
CREATE INDEX "webhook_events_unprocessed_idx" ON "webhook_events" USING btree ("id") WHERE "webhook_events"."processed_at" is null;
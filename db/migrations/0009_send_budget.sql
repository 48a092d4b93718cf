CREATE TABLE "send_budget" (
	"endpoint" text PRIMARY KEY NOT NULL,
	"next_at" timestamp with time zone NOT NULL
);

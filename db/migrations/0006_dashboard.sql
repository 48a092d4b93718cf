CREATE TABLE "line_delivery_counts" (
	"day" text NOT NULL,
	"kind" text NOT NULL,
	"success" integer NOT NULL,
	"fetched_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "line_delivery_counts_day_kind_pk" PRIMARY KEY("day","kind")
);

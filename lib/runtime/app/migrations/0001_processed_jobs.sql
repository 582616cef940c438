-- Each job the example worker has processed, keyed by the SQS message id: a redelivered message
-- (SQS delivers at least once) finds its row and writes nothing a second time.
CREATE TABLE processed_jobs (
  message_id text PRIMARY KEY,
  job_type text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);

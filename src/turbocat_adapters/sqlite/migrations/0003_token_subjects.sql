-- Finding every reset token of an account (to spend them all once the password changes).
CREATE INDEX one_time_tokens_subject_idx ON one_time_tokens (subject);

-- 0010: annotations.review_state (0008) was written at every review and
-- read by nothing: the data manager reads tasks.review_state, and the
-- labeling page works an annotation's verdict out from its reviews.
ALTER TABLE annotations DROP COLUMN review_state;

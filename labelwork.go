package glossa

import (
	"context"
	"encoding/json"
	"time"
)

// Draft is a person's unsaved work on a task (Label Studio's annotation
// draft): saved as they label, restored after a reload, deleted when they
// submit. There is at most one per person and task.
type Draft struct {
	ID     int64 `json:"id"`
	OrgID  int64 `json:"-"`
	TaskID int64 `json:"task"`
	UserID int64 `json:"user"`
	// AnnotationID is the annotation being edited, nil for a new one.
	AnnotationID *int64          `json:"annotation"`
	Result       json.RawMessage `json:"result"`
	LeadTime     float64         `json:"lead_time"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// ReviewState is the verdict on an annotation: its latest review's, or
// none. A task's is that of the latest review of any of its annotations
// (until that annotation is deleted; then the latest remaining review's).
type ReviewState string

// Review states.
const (
	ReviewNone     ReviewState = ""
	ReviewAccepted ReviewState = "accepted"
	ReviewRejected ReviewState = "rejected"
)

// Review is a reviewer's verdict on an annotation, with a comment.
type Review struct {
	ID           int64     `json:"id"`
	OrgID        int64     `json:"-"`
	AnnotationID int64     `json:"annotation"`
	TaskID       int64     `json:"task"`
	ReviewerID   int64     `json:"created_by"`
	Accepted     bool      `json:"accepted"`
	Comment      string    `json:"comment"`
	CreatedAt    time.Time `json:"created_at"`
}

// NextTaskRequest asks for the task a person should label next.
type NextTaskRequest struct {
	OrgID, ProjectID, UserID int64
	// Lease is how long the task is held for the person: nobody else is
	// handed it meanwhile. It is renewed by asking again or saving a
	// draft, and released when they submit or skip (create an annotation
	// of the task, cancelled or not) or call ReleaseTask.
	Lease time.Duration
	// Now is the time of the request; zero means the store's clock.
	Now time.Time
	// Visibility hides tasks the person may not see (per-person storages).
	Visibility *TaskVisibility
}

// DataManagerColumn names what the data manager sorts and filters by:
// a task column, or "data.<key>" for a field of the task data.
type DataManagerColumn string

// Data manager columns.
const (
	ColumnID          DataManagerColumn = "id"
	ColumnCreatedAt   DataManagerColumn = "created_at"
	ColumnUpdatedAt   DataManagerColumn = "updated_at"
	ColumnAnnotations DataManagerColumn = "total_annotations"
	ColumnPredictions DataManagerColumn = "total_predictions"
	ColumnReviewState DataManagerColumn = "review_state"
	ColumnAnnotators  DataManagerColumn = "annotators"
)

// DataManagerFilter is one condition of a data manager view, in Label
// Studio's vocabulary: Operator is one of equal, not_equal, less, greater,
// less_or_equal, greater_or_equal, contains, not_contains, in, not_in,
// empty. A view's filters must all hold. What applies to which column, and
// what Value holds:
//
//   - id, total_annotations, total_predictions: equal ... greater_or_equal
//     take a number; in and not_in a list of numbers, or a range
//     {"min": a, "max": b}, both ends included (Label Studio's "between").
//   - created_at, updated_at: equal ... greater_or_equal take an RFC 3339
//     time; in and not_in a range {"min": t1, "max": t2}.
//   - review_state: equal and not_equal take "accepted", "rejected" or
//     "none" (or ""); in and not_in a list of those; empty true or false
//     (empty is "none").
//   - annotators: in and not_in take a list of user IDs (tasks that one of
//     them annotated or skipped, or that none of them did); empty true or
//     false (no annotation at all, skips included).
//   - data.<key>, a top-level field of the task data: equal and not_equal
//     take a JSON string, number, boolean or null, compared by type and
//     value (5 is not "5"); less ... greater_or_equal a number or a
//     string, and match fields of the same type; contains and not_contains
//     a string, matched case-insensitively in the field's text; empty true
//     or false (missing, null or ""). not_equal and not_contains match
//     tasks without the field.
//
// Anything else is EINVALID.
type DataManagerFilter struct {
	Column   DataManagerColumn `json:"filter"`
	Operator string            `json:"operator"`
	Value    json.RawMessage   `json:"value"`
}

// DataManagerQuery is one page of the data manager: the project's tasks
// matching every filter, sorted by one column, paged by a cursor (the
// sort value and ID of the previous page's last row) so that a page deep
// into a million tasks costs what the first does.
type DataManagerQuery struct {
	OrgID, ProjectID int64
	Filters          []DataManagerFilter
	// OrderBy is any column but annotators (a list has no order); "" means
	// id. Ties are broken by id, in the same direction.
	OrderBy    DataManagerColumn
	Descending bool
	// Cursor is opaque, from the previous page of the same query (same
	// filters, order and visibility); "" for the first page.
	Cursor     string
	Limit      int // 100 if 0, at most 1000
	Visibility *TaskVisibility
}

// TaskRow is a task as the data manager lists it.
type TaskRow struct {
	Task
	// Annotators are the IDs of the people who annotated the task.
	Annotators  []int64     `json:"annotators"`
	ReviewState ReviewState `json:"review_state"`
}

// DataManagerPage is one page of rows, the cursor of the next page ("" at
// the end) and how many tasks match.
//
// Total is counted for the first page and carried by the cursor to the
// pages after it, so paging never counts again. Without filters it comes
// from the project's counters and is exact. With filters the count stops
// at DataManagerCountLimit: TotalAtLeast then says that Total is a lower
// bound (show "10,000+"), not the number of matching tasks.
type DataManagerPage struct {
	Rows         []TaskRow `json:"tasks"`
	NextCursor   string    `json:"next_cursor"`
	Total        int64     `json:"total"`
	TotalAtLeast bool      `json:"total_at_least"`
}

// DataManagerCountLimit is where the data manager stops counting the
// tasks that match filters (see DataManagerPage).
const DataManagerCountLimit = 10_000

// LabelingService stores the work of labeling: drafts, the hand-out of
// tasks to annotators, reviews and the data manager's queries.
type LabelingService interface {
	// SaveDraft creates or replaces the person's draft of the task (and
	// renews their lease on it). Creating an annotation deletes its
	// author's draft of a new annotation of the task.
	SaveDraft(ctx context.Context, d *Draft) error
	FindDraft(ctx context.Context, orgID, taskID, userID int64) (*Draft, error)
	DeleteDraft(ctx context.Context, orgID, taskID, userID int64) error

	// NextTask hands the person the task they hold (lease unexpired), or
	// else the first unlabeled task that nobody else holds and that they
	// have neither annotated nor skipped, and leases it to them; ENOTFOUND
	// when none is left. Two people asking at once never get the same
	// task.
	NextTask(ctx context.Context, r NextTaskRequest) (*Task, error)
	// ReleaseTask ends the person's lease on the task, if they hold it.
	ReleaseTask(ctx context.Context, orgID, taskID, userID int64) error

	// CreateReview records a verdict on an annotation of r.OrgID and
	// fills in its ID, TaskID and CreatedAt.
	CreateReview(ctx context.Context, r *Review) error
	// FindReviews lists an annotation's reviews, oldest first.
	FindReviews(ctx context.Context, orgID, annotationID int64) ([]Review, error)

	// QueryTasks is the data manager's listing.
	QueryTasks(ctx context.Context, q DataManagerQuery) (*DataManagerPage, error)
	// DeleteTasks deletes the listed tasks of a project (the data
	// manager's bulk delete) and returns how many there were; IDs of no
	// task of the project are ignored. The exported objects of their
	// annotations are deleted as AnnotationService.DeleteAnnotation says.
	DeleteTasks(ctx context.Context, orgID, projectID int64, ids []int64) (int64, error)
}

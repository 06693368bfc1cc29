package store

import (
	"context"
	"fmt"
	"time"
)

// seedTasks adds n tasks to a project in a few statements, far faster than
// ImportTasks, for benchmarks and query-plan tests: task i has the data
// {"text":"task i"}, and every third task (i % 3 == 0) has one annotation
// by userID, so that about a third are labeled. The project's counters are
// updated to match. It generates the rows inside the database (a recursive
// CTE on SQLite, generate_series on PostgreSQL); the numbers it formats
// into the SQL are integers.
func seedTasks(ctx context.Context, db *DB, orgID, projectID, userID int64, n int) error {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var tasks, anns string
	switch db.dialect {
	case SQLite:
		ts := "'" + at.Format(sqliteTime) + "'"
		tasks = fmt.Sprintf(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d)
			INSERT INTO tasks (org_id, project_id, data, is_labeled, total_annotations, total_predictions, created_at, updated_at)
			SELECT %d, %d, '{"text":"task ' || i || '"}', i %% 3 = 0, i %% 3 = 0, 0, %s, %s FROM g`,
			n, orgID, projectID, ts, ts)
		anns = fmt.Sprintf(`INSERT INTO annotations (org_id, project_id, task_id, result, completed_by, created_at, updated_at)
			SELECT org_id, project_id, id, '[]', %d, created_at, created_at FROM tasks WHERE project_id = %d AND is_labeled = TRUE`,
			userID, projectID)
	case Postgres:
		ts := "'" + at.Format(time.RFC3339) + "'::timestamptz"
		tasks = fmt.Sprintf(`INSERT INTO tasks (org_id, project_id, data, is_labeled, total_annotations, total_predictions, created_at, updated_at)
			SELECT %d, %d, ('{"text":"task ' || i || '"}')::json, i %% 3 = 0, (i %% 3 = 0)::int, 0, %s, %s
			FROM generate_series(1, %d) AS i`,
			orgID, projectID, ts, ts, n)
		anns = fmt.Sprintf(`INSERT INTO annotations (org_id, project_id, task_id, result, completed_by, created_at, updated_at)
			SELECT org_id, project_id, id, '[]'::json, %d, created_at, created_at FROM tasks WHERE project_id = %d AND is_labeled`,
			userID, projectID)
	}
	return db.inTx(ctx, "seedTasks", func(tx conn) error {
		if _, err := tx.exec(ctx, tasks); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, anns); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `UPDATE projects SET task_count = task_count + ?, annotated_task_count = annotated_task_count + ?,
			annotation_count = annotation_count + ? WHERE id = ?`, n, n/3, n/3, projectID)
		if err != nil {
			return err
		}
		if db.dialect == Postgres {
			// Fresh statistics, as autovacuum would soon give a real
			// database. (SQLite has none unless someone runs ANALYZE.)
			_, err = tx.exec(ctx, "ANALYZE tasks, annotations")
		}
		return err
	})
}

package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/glossa-dev/glossa"
)

const auditColumns = "id, org_id, at, actor_id, actor_email, action, outcome, reason, target_type, target_id, ip, user_agent, request_id, detail"

// AppendAudit appends e to the audit log and fills in its ID (and At, when
// zero). The log is append-only: nothing in the store updates or deletes
// it, and the schema's triggers refuse to.
func (db *DB) AppendAudit(ctx context.Context, e *glossa.AuditEvent) error {
	const op = "store.AppendAudit"
	if e == nil || e.Action == "" {
		return glossa.Errorf(glossa.EINVALID, "An audit event needs an action.")
	}
	ne := *e
	if ne.At.IsZero() {
		ne.At = db.now()
	}
	ne.At = norm(ne.At)
	var detail any
	if len(ne.Detail) > 0 {
		b, err := json.Marshal(ne.Detail)
		if err != nil {
			return dbError(op, err)
		}
		detail = string(b)
	}
	err := db.writer().queryRow(ctx, "INSERT INTO audit_events (org_id, at, actor_id, actor_email, action, outcome, reason, target_type, target_id, ip, user_agent, request_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
		ne.OrgID, db.timeValue(ne.At), ne.ActorID, ne.ActorEmail, ne.Action, ne.Outcome, ne.Reason, ne.TargetType,
		ne.TargetID, ne.IP, ne.UserAgent, ne.RequestID, detail).Scan(&ne.ID)
	if err != nil {
		return dbError(op, err)
	}
	*e = ne
	return nil
}

// FindAuditEvents returns an organization's audit events, newest first,
// before the ID cursor f.Before when set (OrgID 0 lists the events whose
// organization was unknown).
func (db *DB) FindAuditEvents(ctx context.Context, f glossa.AuditFilter) ([]glossa.AuditEvent, error) {
	const op = "store.FindAuditEvents"
	q := "SELECT " + auditColumns + " FROM audit_events WHERE org_id = ?"
	args := []any{f.OrgID}
	if f.Action != "" {
		q, args = q+" AND action = ?", append(args, f.Action)
	}
	if f.Before > 0 {
		q, args = q+" AND id < ?", append(args, f.Before)
	}
	rows, err := db.reader().query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, pageLimit(f.Limit))...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	es := []glossa.AuditEvent{}
	for rows.Next() {
		var e glossa.AuditEvent
		var detail []byte
		if err := rows.Scan(&e.ID, &e.OrgID, timeScan{&e.At}, &e.ActorID, &e.ActorEmail, &e.Action, &e.Outcome, &e.Reason,
			&e.TargetType, &e.TargetID, &e.IP, &e.UserAgent, &e.RequestID, &detail); err != nil {
			return nil, dbError(op, err)
		}
		if len(detail) > 0 {
			if err := json.Unmarshal(detail, &e.Detail); err != nil {
				return nil, dbError(op, err)
			}
		}
		es = append(es, e)
	}
	return es, dbError(op, rows.Err())
}

// signInFailureTTL is how long failures are kept: longer than any throttle
// window counts back.
const signInFailureTTL = 24 * time.Hour

// RecordSignInFailure records a failed sign-in for key at at. In the same
// transaction it deletes every failure older than a day before at, so the
// table holds about a day of failures; with the index on at, that costs an
// index probe when there is nothing to delete.
func (db *DB) RecordSignInFailure(ctx context.Context, key string, at time.Time) error {
	return db.inTx(ctx, "store.RecordSignInFailure", func(tx conn) error {
		if _, err := tx.exec(ctx, "INSERT INTO signin_failures (key, at) VALUES (?, ?)", key, db.timeValue(at)); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "DELETE FROM signin_failures WHERE at < ?", db.timeValue(at.Add(-signInFailureTTL)))
		return err
	})
}

// CountSignInFailures counts the failures for key at or after since.
func (db *DB) CountSignInFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := db.reader().queryRow(ctx, "SELECT COUNT(*) FROM signin_failures WHERE key = ? AND at >= ?", key, db.timeValue(since)).Scan(&n)
	return n, dbError("store.CountSignInFailures", err)
}

// ClearSignInFailures forgets the failures for key (after a successful sign-in).
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	_, err := db.writer().exec(ctx, "DELETE FROM signin_failures WHERE key = ?", key)
	return dbError("store.ClearSignInFailures", err)
}

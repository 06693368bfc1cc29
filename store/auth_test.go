package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/google/go-cmp/cmp"
)

func testSessions(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	// A time with nanoseconds and a zone: stored as UTC microseconds.
	signIn := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", -5*3600))
	s := &glossa.Session{IDHash: "h1", OrgID: a.org.ID, UserID: ann.ID, CSRFToken: "csrf", CreatedAt: signIn,
		ExpiresAt: signIn.Add(14 * 24 * time.Hour), Method: "saml"}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	want := &glossa.Session{IDHash: "h1", OrgID: a.org.ID, UserID: ann.ID, CSRFToken: "csrf",
		CreatedAt:  signIn.UTC().Truncate(time.Microsecond),
		LastSeenAt: signIn.UTC().Truncate(time.Microsecond),
		ExpiresAt:  signIn.Add(14 * 24 * time.Hour).UTC().Truncate(time.Microsecond), Method: "saml"}
	got, err := db.FindSession(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FindSession (-want +got):\n%s", diff)
	}
	if got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt in %v, want UTC", got.ExpiresAt.Location())
	}
	wantError(t, db.CreateSession(ctx, &glossa.Session{IDHash: "h1", OrgID: a.org.ID, UserID: ann.ID, ExpiresAt: signIn}),
		glossa.ECONFLICT, "The session already exists.")
	wantCode(t, db.CreateSession(ctx, &glossa.Session{OrgID: a.org.ID, UserID: ann.ID}), glossa.EINVALID)

	later := signIn.Add(time.Hour)
	if err := db.TouchSession(ctx, "h1", later); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindSession(ctx, "h1")
	if !got.LastSeenAt.Equal(later.Truncate(time.Microsecond)) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("after TouchSession: last seen %v, created %v", got.LastSeenAt, got.CreatedAt)
	}
	wantCode(t, db.TouchSession(ctx, "unknown", later), glossa.ENOTFOUND)
	_, err = db.FindSession(ctx, "unknown")
	wantError(t, err, glossa.ENOTFOUND, "Session not found.")

	if err := db.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	_, err = db.FindSession(ctx, "h1")
	wantCode(t, err, glossa.ENOTFOUND)
	if err := db.DeleteSession(ctx, "h1"); err != nil {
		t.Errorf("signing out twice: %v", err)
	}

	// DeleteUserSessions ends all of one user's sessions, and only theirs.
	for i, uid := range []int64{ann.ID, ann.ID, a.owner.ID} {
		s := &glossa.Session{IDHash: fmt.Sprint("s", i), OrgID: a.org.ID, UserID: uid, ExpiresAt: signIn}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if s.LastSeenAt.IsZero() || s.CreatedAt.IsZero() {
			t.Errorf("CreateSession left times empty: %+v", s)
		}
	}
	if err := db.DeleteUserSessions(ctx, a.org.ID, ann.ID); err != nil {
		t.Fatal(err)
	}
	for hash, wantCodeStr := range map[string]string{"s0": glossa.ENOTFOUND, "s1": glossa.ENOTFOUND, "s2": ""} {
		_, err := db.FindSession(ctx, hash)
		if glossa.ErrorCode(err) != wantCodeStr {
			t.Errorf("FindSession(%s) after DeleteUserSessions: %v", hash, err)
		}
	}

	// DeleteExpiredSessions removes only sessions past their absolute end.
	live := &glossa.Session{IDHash: "live", OrgID: a.org.ID, UserID: ann.ID, ExpiresAt: signIn.Add(2 * time.Hour)}
	if err := db.CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	n, err := db.DeleteExpiredSessions(ctx, signIn.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1 (s2)", n, err)
	}
	_, err = db.FindSession(ctx, "s2")
	wantCode(t, err, glossa.ENOTFOUND)
	if _, err := db.FindSession(ctx, "live"); err != nil {
		t.Errorf("a live session was purged: %v", err)
	}
}

func testTokens(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := &glossa.APIToken{OrgID: a.org.ID, UserID: ann.ID, Name: "ci", Hash: "hash1", Prefix: "gl_ab", ExpiresAt: &exp}
	if err := db.CreateToken(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if t1.ID == 0 || t1.CreatedAt.IsZero() {
		t.Fatalf("CreateToken did not fill in ID and time: %+v", t1)
	}
	got, err := db.FindTokenByHash(ctx, "hash1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(t1, got); diff != "" {
		t.Errorf("FindTokenByHash (-want +got):\n%s", diff)
	}
	t2 := &glossa.APIToken{OrgID: a.org.ID, UserID: ann.ID, Name: "laptop", Hash: "hash2"}
	if err := db.CreateToken(ctx, t2); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.CreateToken(ctx, &glossa.APIToken{OrgID: a.org.ID, UserID: ann.ID, Hash: "hash2"}), glossa.ECONFLICT)
	wantCode(t, db.CreateToken(ctx, &glossa.APIToken{OrgID: a.org.ID, UserID: ann.ID}), glossa.EINVALID)
	_, err = db.FindTokenByHash(ctx, "nope")
	wantError(t, err, glossa.ENOTFOUND, "Token not found.")

	// Another user of the same organization cannot revoke ann's token.
	wantCode(t, db.RevokeToken(ctx, a.org.ID, a.owner.ID, t2.ID), glossa.ENOTFOUND)
	if got, _ := db.FindTokenByHash(ctx, "hash2"); got.RevokedAt != nil {
		t.Errorf("a refused revoke revoked the token")
	}
	if err := db.RevokeToken(ctx, a.org.ID, ann.ID, t2.ID); err != nil {
		t.Fatal(err)
	}
	first, _ := db.FindTokenByHash(ctx, "hash2")
	if first.RevokedAt == nil {
		t.Fatalf("RevokedAt not set")
	}
	if err := db.RevokeToken(ctx, a.org.ID, ann.ID, t2.ID); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if again, _ := db.FindTokenByHash(ctx, "hash2"); !again.RevokedAt.Equal(*first.RevokedAt) {
		t.Errorf("revoking twice moved RevokedAt from %v to %v", first.RevokedAt, again.RevokedAt)
	}

	used := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := db.TouchToken(ctx, t1.ID, used); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.TouchToken(ctx, t2.ID+1000, used), glossa.ENOTFOUND)
	list, err := db.FindTokens(ctx, a.org.ID, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	want1 := *t1
	want1.LastUsedAt = &used
	want2 := *t2
	want2.RevokedAt = first.RevokedAt
	if diff := cmp.Diff([]glossa.APIToken{want1, want2}, list); diff != "" {
		t.Errorf("FindTokens (-want +got):\n%s", diff)
	}
	if list, err := db.FindTokens(ctx, a.org.ID, a.owner.ID); err != nil || list == nil || len(list) != 0 {
		t.Errorf("FindTokens(owner) = %v, %v; want an empty list", list, err)
	}
}

func testAudit(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	const orgA, orgB = 1, 2 // the audit log needs no rows elsewhere
	var events []*glossa.AuditEvent
	for i := range 5 {
		e := &glossa.AuditEvent{OrgID: orgA, ActorID: 7, ActorEmail: "ann@a.example", Action: []string{"signin", "role.change"}[i%2],
			Outcome: glossa.OutcomeSuccess, TargetType: "user", TargetID: fmt.Sprint(i), IP: "192.0.2.1", UserAgent: "ua",
			RequestID: "req", Detail: map[string]any{"i": float64(i), "nested": map[string]any{"ok": true}}}
		if err := db.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	unknown := &glossa.AuditEvent{Action: "signin", Outcome: glossa.OutcomeFailure, Reason: "unknown email",
		At: time.Date(2025, 1, 1, 0, 0, 0, 999, time.UTC)}
	if err := db.AppendAudit(ctx, unknown); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(ctx, &glossa.AuditEvent{OrgID: orgB, Action: "signin", Outcome: glossa.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.AppendAudit(ctx, &glossa.AuditEvent{OrgID: orgA}), glossa.EINVALID)

	deref := func(es ...*glossa.AuditEvent) []glossa.AuditEvent {
		out := []glossa.AuditEvent{}
		for _, e := range es {
			out = append(out, *e)
		}
		return out
	}
	unknownWant := *unknown
	unknownWant.At = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		filter glossa.AuditFilter
		want   []glossa.AuditEvent
	}{
		{"newest first", glossa.AuditFilter{OrgID: orgA}, deref(events[4], events[3], events[2], events[1], events[0])},
		{"limit", glossa.AuditFilter{OrgID: orgA, Limit: 2}, deref(events[4], events[3])},
		{"cursor", glossa.AuditFilter{OrgID: orgA, Before: events[3].ID, Limit: 2}, deref(events[2], events[1])},
		{"action", glossa.AuditFilter{OrgID: orgA, Action: "role.change"}, deref(events[3], events[1])},
		{"unknown organization", glossa.AuditFilter{}, []glossa.AuditEvent{unknownWant}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.FindAuditEvents(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FindAuditEvents (-want +got):\n%s", diff)
			}
		})
	}

	// The database itself refuses to change the log.
	raw := f.e.raw(t, f.dsn)
	for _, stmt := range []string{
		"UPDATE audit_events SET outcome = 'success'",
		"DELETE FROM audit_events",
	} {
		if _, err := raw.Exec(stmt); err == nil {
			t.Errorf("%s: no error, want the append-only trigger to refuse", stmt)
		}
	}
	if got, _ := db.FindAuditEvents(ctx, glossa.AuditFilter{OrgID: orgA}); len(got) != 5 || got[0].Outcome != glossa.OutcomeSuccess {
		t.Errorf("audit log changed: %+v", got)
	}
	if got, _ := db.FindAuditEvents(ctx, glossa.AuditFilter{}); got[0].Outcome != glossa.OutcomeFailure {
		t.Errorf("audit log changed: %+v", got)
	}
}

func testThrottle(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	t0 := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	for i := range 3 {
		if err := db.RecordSignInFailure(ctx, "ip:192.0.2.1", t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RecordSignInFailure(ctx, "email:ann@a.example", t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key   string
		since time.Time
		want  int
	}{
		{"ip:192.0.2.1", t0, 3},
		{"ip:192.0.2.1", t0.Add(30 * time.Second), 2},
		{"ip:192.0.2.1", t0.Add(2 * time.Minute), 1}, // at or after
		{"ip:192.0.2.1", t0.Add(time.Hour), 0},
		{"email:ann@a.example", time.Time{}, 1},
		{"other", time.Time{}, 0},
	} {
		n, err := db.CountSignInFailures(ctx, tc.key, tc.since)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("CountSignInFailures(%s, %v) = %d, want %d", tc.key, tc.since, n, tc.want)
		}
	}
	if err := db.ClearSignInFailures(ctx, "ip:192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountSignInFailures(ctx, "ip:192.0.2.1", time.Time{}); n != 0 {
		t.Errorf("after ClearSignInFailures: %d failures, want 0", n)
	}
	if n, _ := db.CountSignInFailures(ctx, "email:ann@a.example", time.Time{}); n != 1 {
		t.Errorf("ClearSignInFailures cleared another key: %d failures, want 1", n)
	}
	// A failure a day and more later sweeps out the old ones, of every key.
	if err := db.RecordSignInFailure(ctx, "ip:198.51.100.7", t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountSignInFailures(ctx, "email:ann@a.example", time.Time{}); n != 0 {
		t.Errorf("a failure older than a day survived: %d, want 0", n)
	}
	if n, _ := db.CountSignInFailures(ctx, "ip:198.51.100.7", time.Time{}); n != 1 {
		t.Errorf("the new failure: %d, want 1", n)
	}
}

// testConcurrentWriters runs writers from many goroutines at once. On
// SQLite none may fail with "database is locked", and the counters must
// come out exact on both engines.
func testConcurrentWriters(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	p := MustCreateProject(t, db, a.org.ID, 0, "P")
	ids := MustImport(t, db, a.org.ID, p.ID, a.owner.ID, numbered(10)...)
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*8)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				task := ids[(w+r)%len(ids)]
				an := &glossa.Annotation{OrgID: a.org.ID, TaskID: task, CompletedBy: a.owner.ID, Result: json.RawMessage(`[]`)}
				errs <- db.CreateAnnotation(ctx, an)
				if r%3 == 0 {
					_, err := db.UpdateAnnotation(ctx, a.org.ID, an.ID, glossa.AnnotationUpdate{WasCancelled: ptr(true)})
					errs <- err
				}
				errs <- db.AppendAudit(ctx, &glossa.AuditEvent{OrgID: a.org.ID, Action: "x", Outcome: "success"})
				errs <- db.RecordSignInFailure(ctx, fmt.Sprint("k", w), time.Now())
				errs <- db.CreateMember(ctx, &glossa.User{OrgID: a.org.ID, Email: fmt.Sprintf("u%d-%d@a.example", w, r)}, glossa.RoleAnnotator)
				_, err := db.ImportTasks(ctx, a.org.ID, p.ID, a.owner.ID, seqOf(numbered(3)), false)
				errs <- err
				_, _, err = db.FindTasks(ctx, glossa.TaskFilter{OrgID: a.org.ID, ProjectID: p.ID, Limit: 5})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
	tasks := int64(10 + workers*rounds*3)
	cancelled := int64(workers * ((rounds + 2) / 3))
	want := counters{tasks, 10, workers*rounds - cancelled}
	if c := MustCounters(t, db, a.org.ID, p.ID); c != want {
		t.Errorf("counters = %+v, want %+v", c, want)
	}
	if c := recount(t, db, a.org.ID, p.ID); c != want {
		t.Errorf("recount = %+v, want %+v", c, want)
	}
	if _, total, _ := db.FindMembers(ctx, glossa.MemberFilter{OrgID: a.org.ID}); total != 1+workers*rounds {
		t.Errorf("%d members, want %d", total, 1+workers*rounds)
	}
}

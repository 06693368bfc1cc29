package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
)

// fixture is one organization with a member of each role, a workspace, a
// project, a task and an annotation.
type fixture struct {
	org                                      *glossa.Organization
	owner, admin, manager, reviewer, annotat *glossa.Member
	outsider                                 *glossa.Member // an Annotator in no workspace or project
	workspace                                glossa.Workspace
	project                                  glossa.Project
	task                                     glossa.Task
	annotation                               glossa.Annotation
	tokenID                                  int64
}

func mustFixture(t *testing.T, ts *TestServer, slug string) *fixture {
	t.Helper()
	f := &fixture{}
	f.org, f.owner = ts.MustOrg(t, slug)
	f.admin = ts.MustMember(t, f.org.ID, "admin@"+slug+".example", glossa.RoleAdministrator)
	f.manager = ts.MustMember(t, f.org.ID, "manager@"+slug+".example", glossa.RoleManager)
	f.reviewer = ts.MustMember(t, f.org.ID, "reviewer@"+slug+".example", glossa.RoleReviewer)
	f.annotat = ts.MustMember(t, f.org.ID, "annotator@"+slug+".example", glossa.RoleAnnotator)
	f.outsider = ts.MustMember(t, f.org.ID, "outsider@"+slug+".example", glossa.RoleAnnotator)
	owner := ts.As(t, f.owner)
	owner.Must(t, 201, "POST", "/api/workspaces", map[string]any{"title": "Main"}, &f.workspace)
	for _, m := range []*glossa.Member{f.manager, f.reviewer, f.annotat} {
		owner.Must(t, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": m.ID}, nil)
	}
	owner.Must(t, 201, "POST", "/api/projects", map[string]any{"title": "Reviews", "workspace": f.workspace.ID,
		"label_config": `<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>`}, &f.project)
	var imp struct {
		TaskIDs []int64 `json:"task_ids"`
	}
	owner.Must(t, 201, "POST", fmt.Sprintf("/api/projects/%d/import?return_task_ids=true", f.project.ID), `[{"text":"first"},{"text":"second"}]`, &imp)
	owner.Must(t, 200, "GET", fmt.Sprintf("/api/tasks/%d", imp.TaskIDs[0]), nil, &f.task)
	ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", f.task.ID), map[string]any{"result": choice("Positive")}, &f.annotation)
	var tok struct {
		ID int64 `json:"id"`
	}
	owner.Must(t, 201, "POST", "/api/tokens", map[string]any{"name": "fixture"}, &tok)
	f.tokenID = tok.ID
	return f
}

func choice(v string) json.RawMessage {
	return json.RawMessage(`[{"id":"r1","from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["` + v + `"]}}]`)
}

// TestTenantIsolation: every endpoint that takes an ID answers 404 when
// the ID belongs to another organization, for that organization's Owner
// as for anyone, and changes nothing there.
func TestTenantIsolation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		a := mustFixture(t, ts, "alpha")
		b := mustFixture(t, ts, "beta")
		alice := ts.As(t, a.owner)
		p := func(format string, args ...any) string { return fmt.Sprintf(format, args...) }
		cases := []struct {
			method, path string
			body         any
		}{
			{"GET", p("/api/organizations/%d", b.org.ID), nil},
			{"PATCH", p("/api/organizations/%d", b.org.ID), map[string]any{"title": "pwned"}},
			{"GET", p("/api/organizations/%d/memberships", b.org.ID), nil},
			{"POST", p("/api/organizations/%d/memberships", b.org.ID), map[string]any{"email": "x@x.example", "role": "Annotator"}},
			{"GET", p("/api/organizations/%d/memberships/%d", b.org.ID, b.annotat.ID), nil},
			{"PATCH", p("/api/organizations/%d/memberships/%d", b.org.ID, b.annotat.ID), map[string]any{"role": "Administrator"}},
			{"DELETE", p("/api/organizations/%d/memberships/%d", b.org.ID, b.annotat.ID), nil},
			// A member of another organization, reached through our own organization's path.
			{"GET", p("/api/organizations/%d/memberships/%d", a.org.ID, b.annotat.ID), nil},
			{"PATCH", p("/api/organizations/%d/memberships/%d", a.org.ID, b.annotat.ID), map[string]any{"role": "Deactivated"}},
			{"GET", p("/api/workspaces/%d", b.workspace.ID), nil},
			{"PATCH", p("/api/workspaces/%d", b.workspace.ID), map[string]any{"title": "pwned"}},
			{"DELETE", p("/api/workspaces/%d", b.workspace.ID), nil},
			{"GET", p("/api/workspaces/%d/memberships", b.workspace.ID), nil},
			{"POST", p("/api/workspaces/%d/memberships", b.workspace.ID), map[string]any{"user": a.annotat.ID}},
			{"POST", p("/api/workspaces/%d/memberships", a.workspace.ID), map[string]any{"user": b.annotat.ID}},
			{"DELETE", p("/api/workspaces/%d/memberships/%d", b.workspace.ID, b.annotat.ID), nil},
			{"GET", p("/api/projects/%d", b.project.ID), nil},
			{"PATCH", p("/api/projects/%d", b.project.ID), map[string]any{"title": "pwned"}},
			{"PATCH", p("/api/projects/%d", a.project.ID), map[string]any{"workspace": b.workspace.ID}},
			{"POST", "/api/projects", map[string]any{"title": "x", "workspace": b.workspace.ID}},
			{"DELETE", p("/api/projects/%d", b.project.ID), nil},
			{"GET", p("/api/projects/%d/members", b.project.ID), nil},
			{"POST", p("/api/projects/%d/members", b.project.ID), map[string]any{"user": a.annotat.ID, "role": "Reviewer"}},
			{"POST", p("/api/projects/%d/members", a.project.ID), map[string]any{"user": b.annotat.ID, "role": "Reviewer"}},
			{"DELETE", p("/api/projects/%d/members/%d", b.project.ID, b.annotat.ID), nil},
			{"POST", p("/api/projects/%d/import", b.project.ID), `[{"text":"injected"}]`},
			{"GET", p("/api/projects/%d/export?exportType=JSON", b.project.ID), nil},
			{"GET", p("/api/projects/%d/export/formats", b.project.ID), nil},
			{"GET", p("/api/tasks?project=%d", b.project.ID), nil},
			{"GET", p("/api/tasks/%d", b.task.ID), nil},
			{"DELETE", p("/api/tasks/%d", b.task.ID), nil},
			{"GET", p("/api/tasks/%d/annotations", b.task.ID), nil},
			{"POST", p("/api/tasks/%d/annotations", b.task.ID), map[string]any{"result": choice("Negative")}},
			{"GET", p("/api/annotations/%d", b.annotation.ID), nil},
			{"PATCH", p("/api/annotations/%d", b.annotation.ID), map[string]any{"result": choice("Negative")}},
			{"DELETE", p("/api/annotations/%d", b.annotation.ID), nil},
			{"DELETE", p("/api/tokens/%d", b.tokenID), nil},
		}
		for _, c := range cases {
			resp := alice.Do(t, c.method, c.path, c.body)
			if resp.Status != http.StatusNotFound || resp.ErrorCode(t) != glossa.ENOTFOUND {
				t.Errorf("%s %s = %d %s, want 404 not_found", c.method, c.path, resp.Status, resp.Body)
			}
		}

		// Nothing of beta changed.
		bob := ts.As(t, b.owner)
		var org map[string]any
		bob.Must(t, 200, "GET", p("/api/organizations/%d", b.org.ID), nil, &org)
		var proj glossa.Project
		bob.Must(t, 200, "GET", p("/api/projects/%d", b.project.ID), nil, &proj)
		var ann glossa.Annotation
		bob.Must(t, 200, "GET", p("/api/annotations/%d", b.annotation.ID), nil, &ann)
		m, err := ts.DB.FindMemberByID(context.Background(), b.org.ID, b.annotat.ID)
		if org["title"] == "pwned" || proj.Title == "pwned" || proj.TaskCount != 2 || string(ann.Result) != string(choice("Positive")) || err != nil || m.Role != glossa.RoleAnnotator {
			t.Fatalf("beta changed: org %v, project %+v, annotation %s, member %+v %v", org["title"], proj, ann.Result, m, err)
		}
		bob.Must(t, 200, "GET", p("/api/tasks/%d", b.task.ID), nil, nil)
		// Lists never show the other organization.
		var projects struct{ Results []glossa.Project }
		alice.Must(t, 200, "GET", "/api/projects", nil, &projects)
		for _, pr := range projects.Results {
			if pr.ID == b.project.ID {
				t.Fatal("alpha's project list shows beta's project")
			}
		}
		var audit struct{ Results []glossa.AuditEvent }
		alice.Must(t, 200, "GET", "/api/audit?limit=1000", nil, &audit)
		for _, e := range audit.Results {
			if strings.Contains(e.ActorEmail, "beta") {
				t.Fatalf("alpha's audit log shows beta's event %+v", e)
			}
		}
	})
}

// TestPermissionsThroughAPI spot-checks the matrix end to end: the
// handlers ask authz the right question about the right resource.
func TestPermissionsThroughAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		p := func(format string, args ...any) string { return fmt.Sprintf(format, args...) }
		cases := []struct {
			who          *glossa.Member
			method, path string
			body         any
			want         int
		}{
			{f.annotat, "POST", p("/api/projects/%d/import", f.project.ID), `[{"text":"x"}]`, 403},
			{f.annotat, "GET", p("/api/projects/%d/export", f.project.ID), nil, 403},
			{f.annotat, "GET", p("/api/tasks?project=%d", f.project.ID), nil, 200},
			{f.annotat, "GET", "/api/audit", nil, 403},
			{f.annotat, "POST", "/api/workspaces", map[string]any{"title": "w"}, 403},
			{f.annotat, "POST", "/api/projects", map[string]any{"title": "p"}, 403},
			{f.outsider, "GET", p("/api/projects/%d", f.project.ID), nil, 404},
			{f.outsider, "GET", p("/api/tasks/%d", f.task.ID), nil, 404},
			{f.outsider, "POST", p("/api/tasks/%d/annotations", f.task.ID), map[string]any{"result": choice("Negative")}, 404},
			{f.reviewer, "PATCH", p("/api/annotations/%d", f.annotation.ID), map[string]any{"result": choice("Negative")}, 200},
			{f.reviewer, "POST", p("/api/projects/%d/import", f.project.ID), `[{"text":"x"}]`, 403},
			{f.manager, "PATCH", p("/api/organizations/%d/memberships/%d", f.org.ID, f.annotat.ID), map[string]any{"role": "Reviewer"}, 403},
			{f.manager, "GET", p("/api/organizations/%d/memberships", f.org.ID), nil, 200},
			{f.manager, "GET", "/api/audit", nil, 403},
			{f.manager, "POST", p("/api/projects/%d/import", f.project.ID), `[{"text":"x"}]`, 201},
			{f.admin, "PATCH", p("/api/organizations/%d/memberships/%d", f.org.ID, f.owner.ID), map[string]any{"role": "Annotator"}, 403},
			{f.admin, "PATCH", p("/api/organizations/%d/memberships/%d", f.org.ID, f.admin.ID), map[string]any{"role": "Manager"}, 403},
			{f.admin, "PATCH", p("/api/organizations/%d/memberships/%d", f.org.ID, f.manager.ID), map[string]any{"role": "Owner"}, 400},
			{f.admin, "GET", "/api/audit", nil, 200},
		}
		for _, c := range cases {
			resp := ts.As(t, c.who).Do(t, c.method, c.path, c.body)
			if resp.Status != c.want {
				t.Errorf("%s: %s %s = %d, want %d: %s", c.who.Email, c.method, c.path, resp.Status, c.want, resp.Body)
			}
		}
		// An Annotator edits only their own annotation.
		other := ts.MustMember(t, f.org.ID, "second@acme.example", glossa.RoleAnnotator)
		ts.As(t, f.owner).Must(t, 201, "POST", p("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": other.ID}, nil)
		if resp := ts.As(t, other).Do(t, "PATCH", p("/api/annotations/%d", f.annotation.ID), map[string]any{"result": choice("Negative")}); resp.Status != 403 {
			t.Errorf("another annotator edited the annotation: %d %s", resp.Status, resp.Body)
		}
		ts.As(t, f.annotat).Must(t, 200, "PATCH", p("/api/annotations/%d", f.annotation.ID), map[string]any{"result": choice("Positive")}, nil)
		// A project role makes an org Annotator a Reviewer in that project.
		ts.As(t, f.owner).Must(t, 201, "POST", p("/api/projects/%d/members", f.project.ID), map[string]any{"user": other.ID, "role": "Reviewer"}, nil)
		ts.As(t, other).Must(t, 200, "PATCH", p("/api/annotations/%d", f.annotation.ID), map[string]any{"lead_time": 3.5}, nil)
	})
}

// TestRoleChangeAndDeactivation: an Administrator's role change is stored
// and audited; deactivating a member ends their sessions and tokens.
func TestRoleChangeAndDeactivation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		admin := ts.As(t, f.admin)
		path := fmt.Sprintf("/api/organizations/%d/memberships/%d", f.org.ID, f.annotat.ID)
		var m map[string]any
		admin.Must(t, 200, "PATCH", path, map[string]any{"role": "RE"}, &m)
		if m["role"] != "Reviewer" || m["role_code"] != "RE" {
			t.Fatalf("role change answered %v", m)
		}
		got, _ := ts.DB.FindMemberByID(context.Background(), f.org.ID, f.annotat.ID)
		if got.Role != glossa.RoleReviewer {
			t.Fatalf("stored role = %s", got.Role)
		}
		events := mustAudit(t, ts, f.org.ID, "role.change")
		if len(events) != 1 || events[0].ActorID != f.admin.ID || events[0].TargetID != fmt.Sprint(f.annotat.ID) || events[0].Detail["from"] != "Annotator" || events[0].Detail["to"] != "Reviewer" {
			t.Fatalf("audit = %+v", events)
		}

		session := ts.SignIn(t, f.annotat.Email, testPassword)
		token := ts.As(t, f.annotat)
		session.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)
		admin.Must(t, 204, "DELETE", path, nil, nil)
		if r := session.Do(t, "GET", "/api/current-user/whoami", nil); r.Status != 401 {
			t.Fatalf("deactivated member's session still works: %d", r.Status)
		}
		if r := token.Do(t, "GET", "/api/current-user/whoami", nil); r.Status != 401 {
			t.Fatalf("deactivated member's token still works: %d", r.Status)
		}
		r := ts.Anonymous().Do(t, "POST", "/api/auth/login", map[string]string{"email": f.annotat.Email, "password": testPassword})
		if r.Status != 401 || !strings.Contains(string(r.Body), "deactivated") {
			t.Fatalf("deactivated member signed in: %d %s", r.Status, r.Body)
		}
		if ev := mustAudit(t, ts, f.org.ID, "signin"); ev[0].Outcome != glossa.OutcomeFailure || ev[0].Reason != "deactivated" {
			t.Fatalf("last sign-in audit = %+v", ev[0])
		}
		// Their annotation history stays.
		ts.As(t, f.owner).Must(t, 200, "GET", fmt.Sprintf("/api/annotations/%d", f.annotation.ID), nil, nil)
	})
}

func mustAudit(t *testing.T, ts *TestServer, orgID int64, action string) []glossa.AuditEvent {
	t.Helper()
	ev, err := ts.DB.FindAuditEvents(context.Background(), glossa.AuditFilter{OrgID: orgID, Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestSessions covers the session cookie, CSRF, sign-out and both
// timeouts.
func TestSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		c := ts.Anonymous()
		resp := c.Must(t, 200, "POST", "/api/auth/login", map[string]string{"email": "OWNER@acme.example ", "password": testPassword}, nil)
		cookie := sessionCookie(t, resp)
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Secure || cookie.Domain != "" {
			t.Fatalf("cookie attributes: %+v", cookie)
		}
		var login struct {
			CSRF string `json:"csrf_token"`
		}
		resp.JSON(t, &login)

		// The database holds only a hash of the session ID.
		if _, err := ts.DB.FindSession(context.Background(), cookie.Value); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatalf("session found by its raw ID: %v", err)
		}

		// An unsafe request with the cookie but without the CSRF token is
		// refused and changes nothing.
		if r := c.Do(t, "POST", "/api/workspaces", map[string]any{"title": "csrf"}); r.Status != 403 {
			t.Fatalf("POST without CSRF token = %d %s", r.Status, r.Body)
		}
		c.csrf = "wrong" + login.CSRF
		if r := c.Do(t, "POST", "/api/workspaces", map[string]any{"title": "csrf"}); r.Status != 403 {
			t.Fatalf("POST with a wrong CSRF token = %d", r.Status)
		}
		list, _ := ts.DB.FindWorkspaces(context.Background(), glossa.WorkspaceFilter{OrgID: f.org.ID})
		for _, ws := range list {
			if ws.Title == "csrf" {
				t.Fatal("a request without a valid CSRF token created a workspace")
			}
		}
		c.csrf = login.CSRF
		c.Must(t, 201, "POST", "/api/workspaces", map[string]any{"title": "with token"}, nil)

		// A cross-site browser request is refused even with the token.
		req, _ := http.NewRequest("POST", ts.URL+"/api/workspaces", strings.NewReader(`{"title":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", login.CSRF)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(cookie)
		if r, err := ts.Client().Do(req); err != nil || r.StatusCode != 403 {
			t.Fatalf("cross-site POST = %v %v", r.StatusCode, err)
		}

		// A new sign-in gets a new session ID; the old one stops working.
		resp2 := c.Must(t, 200, "POST", "/api/auth/login", map[string]string{"email": f.owner.Email, "password": testPassword}, nil)
		if sessionCookie(t, resp2).Value == cookie.Value {
			t.Fatal("sign-in reused the session ID")
		}
		if r := withCookie(t, ts, cookie); r.StatusCode != 401 {
			t.Fatalf("the pre-sign-in session still works: %d", r.StatusCode)
		}

		// Sign-out ends the session server-side.
		current := sessionCookie(t, resp2)
		var l2 struct {
			CSRF string `json:"csrf_token"`
		}
		resp2.JSON(t, &l2)
		c.csrf = l2.CSRF
		c.Must(t, 204, "POST", "/api/auth/logout", nil, nil)
		if r := withCookie(t, ts, current); r.StatusCode != 401 {
			t.Fatalf("session works after sign-out: %d", r.StatusCode)
		}
		if ev := mustAudit(t, ts, f.org.ID, "signout"); len(ev) != 1 {
			t.Fatalf("sign-out audit = %+v", ev)
		}

		// Idle timeout: the organization's, checked against the last activity.
		owner := ts.As(t, f.owner)
		owner.Must(t, 200, "PATCH", fmt.Sprintf("/api/organizations/%d", f.org.ID), map[string]any{"max_time_between_activity": 30, "max_session_age": 120}, nil)
		s := ts.SignIn(t, f.owner.Email, testPassword)
		ts.Clock.Advance(20 * time.Minute)
		s.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil) // activity renews the idle clock
		ts.Clock.Advance(20 * time.Minute)
		s.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)
		ts.Clock.Advance(31 * time.Minute)
		if r := s.Do(t, "GET", "/api/current-user/whoami", nil); r.Status != 401 {
			t.Fatalf("idle session still works: %d", r.Status)
		}
		// Absolute timeout: active all along, still ends at max age.
		s = ts.SignIn(t, f.owner.Email, testPassword)
		for i := 0; i < 4; i++ {
			ts.Clock.Advance(25 * time.Minute)
			s.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)
		}
		ts.Clock.Advance(25 * time.Minute) // 125 minutes > 120
		if r := s.Do(t, "GET", "/api/current-user/whoami", nil); r.Status != 401 {
			t.Fatalf("session outlived max_session_age: %d", r.Status)
		}
	})
}

func sessionCookie(t *testing.T, r *Response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if strings.HasSuffix(c.Name, "glossa_session") && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.Header)
	return nil
}

func withCookie(t *testing.T, ts *TestServer, c *http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/api/current-user/whoami", nil)
	req.AddCookie(c)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSignInThrottle: failures are counted per account; past the limit
// even the right password gets 429 with Retry-After, and the audit log
// says why each attempt was refused.
func TestSignInThrottle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		c := ts.Anonymous()
		for i := 0; i < 5; i++ {
			r := c.Do(t, "POST", "/api/auth/login", map[string]string{"email": f.owner.Email, "password": "wrong password"})
			if r.Status != 401 || !strings.Contains(string(r.Body), "Wrong email or password") {
				t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
			}
		}
		r := c.Do(t, "POST", "/api/auth/login", map[string]string{"email": f.owner.Email, "password": testPassword})
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || r.ErrorCode(t) != glossa.ETOOMANY {
			t.Fatalf("after 5 failures: %d %v %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatal("a throttled sign-in set a cookie")
		}
		// Another account from the same address is not locked.
		c.Must(t, 200, "POST", "/api/auth/login", map[string]string{"email": f.admin.Email, "password": testPassword}, nil)
		// The lock lifts when the window passes.
		ts.Clock.Advance(16 * time.Minute)
		c.Must(t, 200, "POST", "/api/auth/login", map[string]string{"email": f.owner.Email, "password": testPassword}, nil)

		ev := mustAudit(t, ts, f.org.ID, "signin")
		var reasons []string
		for i := len(ev) - 1; i >= 0; i-- {
			if ev[i].ActorEmail == f.owner.Email {
				reasons = append(reasons, ev[i].Outcome+":"+ev[i].Reason)
			}
		}
		want := []string{"failure:wrong_password", "failure:wrong_password", "failure:wrong_password", "failure:wrong_password", "failure:wrong_password", "success:"}
		if !reflect.DeepEqual(reasons, want) {
			t.Fatalf("owner's sign-in audit = %v, want %v", reasons, want)
		}
		// An unknown email gets the same answer as a wrong password.
		u := c.Do(t, "POST", "/api/auth/login", map[string]string{"email": "nobody@acme.example", "password": "whatever1"})
		if u.Status != 401 || !strings.Contains(string(u.Body), "Wrong email or password") {
			t.Fatalf("unknown email: %d %s", u.Status, u.Body)
		}
	})
}

// TestTokens: shown once, stored hashed, both header forms, expiry and
// revocation.
func TestTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		s := ts.SignIn(t, f.reviewer.Email, testPassword)
		var created struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
		}
		s.Must(t, 201, "POST", "/api/tokens", map[string]any{"name": "laptop", "expires_in_days": 2}, &created)
		if !strings.HasPrefix(created.Token, "glo_") {
			t.Fatalf("token = %q", created.Token)
		}
		list := s.Must(t, 200, "GET", "/api/tokens", nil, nil)
		if strings.Contains(string(list.Body), created.Token) || !strings.Contains(string(list.Body), "laptop") {
			t.Fatalf("token list: %s", list.Body)
		}
		if _, err := ts.DB.FindTokenByHash(context.Background(), created.Token); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatal("the token is stored in the clear")
		}
		for _, scheme := range []string{"Token", "Bearer", "bearer"} {
			req, _ := http.NewRequest("GET", ts.URL+"/api/current-user/whoami", nil)
			req.Header.Set("Authorization", scheme+" "+created.Token)
			resp, err := ts.Client().Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s scheme: %v %v", scheme, resp.StatusCode, err)
			}
			resp.Body.Close()
		}
		tc := ts.AsToken(created.Token)
		var me map[string]any
		tc.Must(t, 200, "GET", "/api/current-user/whoami", nil, &me)
		if me["email"] != f.reviewer.Email || me["role"] != "Reviewer" {
			t.Fatalf("whoami = %v", me)
		}
		for _, bad := range []string{"Basic abc", "Token", "Token glo_nonsense", "Bearer " + created.Token + "x"} {
			req, _ := http.NewRequest("GET", ts.URL+"/api/current-user/whoami", nil)
			req.Header.Set("Authorization", bad)
			resp, _ := ts.Client().Do(req)
			if resp.StatusCode != 401 {
				t.Errorf("Authorization %q = %d", bad, resp.StatusCode)
			}
			resp.Body.Close()
		}
		// Expiry.
		ts.Clock.Advance(47 * time.Hour)
		tc.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)
		ts.Clock.Advance(2 * time.Hour)
		if r := tc.Do(t, "GET", "/api/current-user/whoami", nil); r.Status != 401 || !strings.Contains(string(r.Body), "expired") {
			t.Fatalf("expired token: %d %s", r.Status, r.Body)
		}
		// Revocation, by its owner only.
		other := ts.As(t, f.reviewer)
		var mine []glossa.APIToken
		other.Must(t, 200, "GET", "/api/tokens", nil, &mine)
		live := mine[len(mine)-1]
		ts.As(t, f.admin).Must(t, 404, "DELETE", fmt.Sprintf("/api/tokens/%d", live.ID), nil, nil)
		other.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)
		other.Must(t, 204, "DELETE", fmt.Sprintf("/api/tokens/%d", live.ID), nil, nil)
		if r := other.Do(t, "GET", "/api/current-user/whoami", nil); r.Status != 401 {
			t.Fatalf("revoked token works: %d", r.Status)
		}
		if len(mustAudit(t, ts, f.org.ID, "token.revoke")) != 1 || len(mustAudit(t, ts, f.org.ID, "token.create")) < 2 {
			t.Fatal("token events missing from the audit log")
		}
		// Bad lifetimes.
		s.Must(t, 400, "POST", "/api/tokens", map[string]any{"name": "x", "expires_in_days": 0}, nil)
		s.Must(t, 400, "POST", "/api/tokens", map[string]any{"name": "x", "expires_in_days": 367}, nil)
	})
}

// TestBadInput: each kind of bad request gets its status, a clear message
// in the JSON error shape, no internal text, and changes nothing.
func TestBadInput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		ts.Web.MaxBodyBytes = 4096
		owner := ts.As(t, f.owner)
		orgPath := fmt.Sprintf("/api/organizations/%d", f.org.ID)
		cases := []struct {
			name, method, path string
			body               any
			status             int
			code, message      string
		}{
			{"malformed JSON", "POST", "/api/workspaces", `{"title": `, 400, "invalid", "ends in the middle"},
			{"syntax error", "POST", "/api/workspaces", `{"title" "x"}`, 400, "invalid", "not valid JSON"},
			{"unknown field", "POST", "/api/workspaces", `{"title":"x","colour":"red"}`, 400, "invalid", `Unknown field "colour"`},
			{"wrong type", "POST", "/api/workspaces", `{"title":42}`, 400, "invalid", `"title" must be of JSON type string`},
			{"two values", "POST", "/api/workspaces", `{"title":"x"}{"title":"y"}`, 400, "invalid", "more than one JSON value"},
			{"empty body", "POST", "/api/workspaces", ``, 400, "invalid", "empty"},
			{"missing title", "POST", "/api/workspaces", `{}`, 400, "invalid", "title is required"},
			{"oversized", "POST", "/api/workspaces", `{"title":"` + strings.Repeat("a", 5000) + `"}`, 413, "too_large", "larger than the limit"},
			{"bad label config", "POST", "/api/projects", map[string]any{"title": "p", "workspace": f.workspace.ID, "label_config": "<View>\n<Text name=\"t\" value=\"$t\">\n</View>"}, 422, "unprocessable", "line 3"},
			{"wrong root", "POST", "/api/projects", map[string]any{"title": "p", "workspace": f.workspace.ID, "label_config": "<Labels/>"}, 422, "unprocessable", "root element must be <View>"},
			{"doctype", "POST", "/api/projects", map[string]any{"title": "p", "workspace": f.workspace.ID, "label_config": `<!DOCTYPE x [<!ENTITY a "b">]><View/>`}, 422, "unprocessable", "DOCTYPE"},
			{"duplicate email", "POST", orgPath + "/memberships", map[string]any{"email": "ADMIN@acme.example", "role": "Manager"}, 409, "conflict", "already exists"},
			{"bad email", "POST", orgPath + "/memberships", map[string]any{"email": "not-an-email", "role": "Manager"}, 400, "invalid", "not an email address"},
			{"bad role", "POST", orgPath + "/memberships", map[string]any{"email": "n@acme.example", "role": "Wizard"}, 400, "invalid", "Unknown role"},
			{"short password", "POST", orgPath + "/memberships", map[string]any{"email": "n@acme.example", "password": "short"}, 400, "invalid", "8"},
			{"bad result", "POST", fmt.Sprintf("/api/tasks/%d/annotations", f.task.ID), map[string]any{"result": map[string]any{"a": 1}}, 400, "invalid", "result must be a list"},
			{"bad session timeout", "PATCH", orgPath, map[string]any{"max_session_age": 1}, 400, "invalid", "between"},
			{"bad page size", "GET", fmt.Sprintf("/api/tasks?project=%d&page_size=5000", f.project.ID), nil, 400, "invalid", "page_size"},
			{"no project", "GET", "/api/tasks", nil, 400, "invalid", "project"},
			{"non-numeric ID", "GET", "/api/projects/abc", nil, 404, "not_found", ""},
			{"unknown route", "GET", "/api/nothing-here", nil, 404, "not_found", ""},
			{"bad export type", "GET", fmt.Sprintf("/api/projects/%d/export?exportType=COCO", f.project.ID), nil, 400, "invalid", "Unknown exportType"},
		}
		for _, c := range cases {
			r := owner.Do(t, c.method, c.path, c.body)
			var body struct {
				Error map[string]string `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Errorf("%s: not a JSON error: %s", c.name, r.Body)
				continue
			}
			if r.Status != c.status || body.Error["code"] != c.code || !strings.Contains(body.Error["message"], c.message) || body.Error["request_id"] == "" {
				t.Errorf("%s: %d %s, want %d %s containing %q", c.name, r.Status, r.Body, c.status, c.code, c.message)
			}
			for _, leak := range []string{"sql", "SQL", "constraint", "goroutine", ".go:", "pq:", "sqlite"} {
				if strings.Contains(string(r.Body), leak) {
					t.Errorf("%s: response leaks %q: %s", c.name, leak, r.Body)
				}
			}
		}
		// A form body is refused by the API.
		req, _ := http.NewRequest("POST", ts.URL+"/api/workspaces", strings.NewReader("title=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Token "+ts.MustToken(t, f.owner))
		resp, _ := ts.Client().Do(req)
		if resp.StatusCode != 400 {
			t.Errorf("form body: %d", resp.StatusCode)
		}
		resp.Body.Close()
		// Nothing was created by any of it.
		ws, _ := ts.DB.FindWorkspaces(context.Background(), glossa.WorkspaceFilter{OrgID: f.org.ID})
		projects, _ := ts.DB.FindProjects(context.Background(), glossa.ProjectFilter{OrgID: f.org.ID})
		members, n, _ := ts.DB.FindMembers(context.Background(), glossa.MemberFilter{OrgID: f.org.ID})
		if len(ws) != 1 || len(projects) != 1 || n != 6 || len(members) != 6 {
			t.Fatalf("bad input changed the database: %d workspaces, %d projects, %d members", len(ws), len(projects), n)
		}
		// Unauthenticated: 401 with a message that says what to do.
		r := ts.Anonymous().Do(t, "GET", "/api/projects", nil)
		if r.Status != 401 || !strings.Contains(string(r.Body), "Authorization") {
			t.Fatalf("anonymous: %d %s", r.Status, r.Body)
		}
	})
}

// TestOperations: health, readiness and metrics.
func TestOperations(t *testing.T) {
	ts := MustServer(t, "sqlite")
	c := ts.Anonymous()
	c.Must(t, 200, "GET", "/healthz", nil, nil)
	c.Must(t, 200, "GET", "/readyz", nil, nil)
	m := c.Must(t, 200, "GET", "/metrics", nil, nil)
	if !strings.Contains(string(m.Body), `glossa_http_requests_total{code="200",method="GET",route="GET /readyz"} 1`) {
		t.Fatalf("metrics:\n%s", m.Body)
	}
	r := c.Do(t, "GET", "/healthz", nil)
	if r.Header.Get("X-Request-ID") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("headers: %v", r.Header)
	}
	ts.DB.Close()
	if r := c.Do(t, "GET", "/readyz", nil); r.Status != 503 {
		t.Fatalf("readyz with the database closed = %d", r.Status)
	}
}

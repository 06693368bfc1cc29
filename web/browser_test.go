package web_test

// Real-browser tests: headless Chromium, driven with chromedp, against the
// whole server on each database engine. They prove what plain HTTP tests
// cannot: that the pages work under their own CSP, that the browser sends
// the forms and cookies as the server expects, and that the little
// JavaScript does its job.

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/internal/browsertest"
)

// signInBrowser types an email and password into the sign-in page and
// waits for the page after it.
func signInBrowser(t *testing.T, ctx context.Context, ts *TestServer, email string) {
	t.Helper()
	browsertest.Do(t, ctx,
		chromedp.Navigate(ts.URL+"/user/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("org-name")),
	)
}

func TestBrowserSignIn(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		org, owner := ts.MustOrg(t, "acme")
		ctx := browsertest.New(t)

		// A page that needs sign-in sends there, and back afterwards.
		browsertest.Do(t, ctx,
			chromedp.Navigate(ts.URL+"/workspaces"),
			chromedp.WaitVisible(chromedp.ID("login-form")),
		)
		if loc := browsertest.Run(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/user/login?next=%2Fworkspaces") {
			t.Errorf("signed out, /workspaces went to %s", loc)
		}
		browsertest.Screenshot(t, ctx, "login")
		browsertest.Do(t, ctx,
			chromedp.SendKeys(chromedp.ID("email"), owner.Email),
			chromedp.SendKeys(chromedp.ID("password"), testPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("org-name")),
		)
		if loc := browsertest.Run(t, ctx, chromedp.Location()); loc != ts.URL+"/workspaces" {
			t.Errorf("after sign-in the browser is at %s, want %s/workspaces", loc, ts.URL)
		}

		// A fresh sign-in lands on the projects with the organization's name.
		ctx = browsertest.New(t)
		signInBrowser(t, ctx, ts, owner.Email)
		if loc := browsertest.Run(t, ctx, chromedp.Location()); loc != ts.URL+"/projects" {
			t.Errorf("after sign-in the browser is at %s, want %s/projects", loc, ts.URL)
		}
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("org-name"))); got != org.Title {
			t.Errorf("header shows organization %q, want %q", got, org.Title)
		}
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("who-email"))); got != owner.Email {
			t.Errorf("header shows %q, want %q", got, owner.Email)
		}
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("who-role"))); got != "Owner" {
			t.Errorf("header shows role %q, want Owner", got)
		}
		browsertest.Screenshot(t, ctx, "projects")
	})
}

func TestBrowserRoleChange(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		org, _ := ts.MustOrg(t, "acme")
		admin := ts.MustMember(t, org.ID, "admin@acme.example", glossa.RoleAdministrator)
		member := ts.MustMember(t, org.ID, "ann@acme.example", glossa.RoleAnnotator)
		ctx := browsertest.New(t)
		signInBrowser(t, ctx, ts, admin.Email)

		id := formatID(member.ID)
		browsertest.Do(t, ctx,
			chromedp.Click(chromedp.CSS(`nav a[href="/organization/members"]`)),
			chromedp.WaitVisible(chromedp.ID("role-"+id)),
			chromedp.SetValue(chromedp.ID("role-"+id), "Manager"),
			chromedp.Click(chromedp.ID("save-role-"+id)),
			chromedp.WaitVisible(chromedp.ID("notice")),
		)
		browsertest.Screenshot(t, ctx, "members")
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("notice"))); !strings.Contains(got, "Role saved") {
			t.Errorf("notice = %q, want the role saved", got)
		}
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.CSS("#member-"+id+" td.role"))); got != "Manager" {
			t.Errorf("the page shows role %q, want Manager", got)
		}
		if got := browsertest.Run(t, ctx, chromedp.Value(chromedp.ID("role-"+id))); got != "Manager" {
			t.Errorf("the role select shows %q, want Manager", got)
		}

		m, err := ts.DB.FindMemberByID(context.Background(), org.ID, member.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Role != glossa.RoleManager {
			t.Errorf("the database has role %s, want Manager", m.Role)
		}
		events, err := ts.DB.FindAuditEvents(context.Background(), glossa.AuditFilter{OrgID: org.ID, Action: "role.change"})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 {
			t.Fatalf("%d role.change events, want 1: %+v", len(events), events)
		}
		e := events[0]
		if e.ActorID != admin.ID || e.TargetID != id || e.Outcome != glossa.OutcomeSuccess ||
			e.Detail["from"] != string(glossa.RoleAnnotator) || e.Detail["to"] != string(glossa.RoleManager) {
			t.Errorf("audit event = %+v, want %s changing %s from Annotator to Manager", e, admin.Email, member.Email)
		}
	})
}

func TestBrowserSignOut(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		_, owner := ts.MustOrg(t, "acme")
		ctx := browsertest.New(t)
		signInBrowser(t, ctx, ts, owner.Email)

		cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{ts.URL}})
		if err != nil {
			t.Fatal(err)
		}
		var session *network.Cookie
		for _, c := range cookies.Cookies {
			if c.Name == auth.CookieName {
				session = c
			}
		}
		if session == nil || !session.HTTPOnly {
			t.Fatalf("no HttpOnly session cookie after sign-in: %+v", cookies.Cookies)
		}

		browsertest.Do(t, ctx,
			chromedp.Click(chromedp.ID("sign-out")),
			chromedp.WaitVisible(chromedp.ID("login-form")),
		)
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("notice"))); !strings.Contains(got, "signed out") {
			t.Errorf("notice = %q, want a signed-out notice", got)
		}

		// The old cookie, put back into the browser, opens nothing: the
		// session ended on the server, not only in the browser.
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: session.Name, Value: session.Value, URL: ts.URL, Path: "/",
		}); err != nil {
			t.Fatal(err)
		}
		browsertest.Do(t, ctx,
			chromedp.Navigate(ts.URL+"/projects"),
			chromedp.WaitVisible(chromedp.ID("login-form")),
		)
		if loc := browsertest.Run(t, ctx, chromedp.Location()); !strings.HasPrefix(loc, ts.URL+"/user/login") {
			t.Errorf("with the old cookie /projects went to %s, want the sign-in page", loc)
		}

		// And outside the browser too.
		req, _ := http.NewRequest("GET", ts.URL+"/projects", nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		resp, err := ts.Anonymous().http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/user/login?next=%2Fprojects" {
			t.Errorf("GET /projects with the old cookie = %d to %q, want 303 to the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// TestBrowserImport drives the one piece of JavaScript that talks to the
// API: the import form, which sends the session's CSRF token in a header.
func TestBrowserImport(t *testing.T) {
	ts := MustServer(t, "sqlite")
	org, owner := ts.MustOrg(t, "acme")
	ctx := browsertest.New(t)
	signInBrowser(t, ctx, ts, owner.Email)

	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.ID("title"), "Sentiment"),
		chromedp.Click(chromedp.CSS(`#new-project ~ form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("import-form")),
		chromedp.SendKeys(chromedp.ID("import-text"), `[{"data": {"text": "good"}}, {"data": {"text": "bad"}}]`),
		chromedp.Click(chromedp.ID("import-button")),
		chromedp.WaitVisible(chromedp.CSS("#import-result.ok")),
	)
	if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("import-result"))); !strings.Contains(got, "Imported 2 task(s)") {
		t.Errorf("import result = %q", got)
	}
	projects, err := ts.DB.FindProjects(context.Background(), glossa.ProjectFilter{OrgID: org.ID})
	if err != nil || len(projects) != 1 || projects[0].TaskCount != 2 {
		t.Fatalf("projects = %+v, %v; want one with 2 tasks", projects, err)
	}

	// A bad file is refused whole, with the server's message.
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.ID("import-text"), `[{"data": {"text": "cut off"`),
		chromedp.Click(chromedp.ID("import-button")),
		chromedp.WaitVisible(chromedp.CSS("#import-result.bad")),
	)
	if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("import-result"))); !strings.HasPrefix(got, "Nothing was imported: ") {
		t.Errorf("import result = %q", got)
	}
	browsertest.Do(t, ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("tasks")),
	)
	if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("task-count"))); got != "2" {
		t.Errorf("task count = %q, want 2", got)
	}
	browsertest.Screenshot(t, ctx, "project")
}

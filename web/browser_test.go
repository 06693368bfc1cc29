package web_test

// Real-browser tests: headless Chromium, driven with chromedp, against the
// whole server on each database engine. They prove what plain HTTP tests
// cannot: that the pages work under their own CSP, that the browser sends
// the forms and cookies as the server expects, and that the little
// JavaScript does its job.

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// browserTimeout bounds each browser test as a whole, so that a stuck
// browser fails the test rather than hanging the run.
const browserTimeout = 60 * time.Second

// chromiumPath finds Chromium: $GLOSSA_TEST_CHROMIUM, else Debian's. Without
// one the test is skipped, except under make test (GLOSSA_TEST_REQUIRE_ALL),
// where no test may be skipped.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv("GLOSSA_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	found, err := exec.LookPath(path)
	if err != nil {
		if os.Getenv("GLOSSA_TEST_REQUIRE_ALL") != "" {
			tb.Fatalf("no Chromium at %s (%v): apt-get install chromium, or run make test", path, err)
		}
		tb.Skipf("no Chromium at %s: apt-get install chromium to run the browser tests", path)
	}
	return found
}

// newBrowser starts a headless Chromium with a fresh profile (chromedp
// makes a temporary one and removes it) for one test. The returned context
// ends after browserTimeout; the browser is stopped when the test ends.
//
// The machine has no outside network: the flags keep Chromium from
// reaching for it (QUIC, background updates, sync), which would stall it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
		cancel()
	})
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return browserCtx
}

// stepTimeout bounds one browserDo or browserRun call, leaving time within
// browserTimeout to report what the page showed when a step failed.
const stepTimeout = 20 * time.Second

// browserDo runs browser steps, failing the test when one fails.
func browserDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		browserFailed(t, ctx, err)
	}
}

// browserRun runs one browser action that returns a value.
func browserRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		browserFailed(t, ctx, err)
	}
	return v
}

// browserFailed fails the test with the page's address and text, and a
// screenshot if GLOSSA_TEST_SCREENSHOTS names a directory.
func browserFailed(t *testing.T, ctx context.Context, err error) {
	t.Helper()
	browserScreenshot(t, ctx, "failure")
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	page, perr := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if perr != nil {
		page = "(unreadable: " + perr.Error() + ")"
	}
	t.Fatalf("browser: %v\npage: %s", err, page)
}

// browserScreenshot saves the page as a PNG in $GLOSSA_TEST_SCREENSHOTS, for a
// person to look at; without that variable it does nothing.
func browserScreenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("GLOSSA_TEST_SCREENSHOTS")
	if dir == "" || ctx.Err() != nil {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
	}
}

// signInBrowser types an email and password into the sign-in page and
// waits for the page after it.
func signInBrowser(t *testing.T, ctx context.Context, ts *TestServer, email string) {
	t.Helper()
	browserDo(t, ctx,
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
		ctx := newBrowser(t)

		// A page that needs sign-in sends there, and back afterwards.
		browserDo(t, ctx,
			chromedp.Navigate(ts.URL+"/workspaces"),
			chromedp.WaitVisible(chromedp.ID("login-form")),
		)
		if loc := browserRun(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/user/login?next=%2Fworkspaces") {
			t.Errorf("signed out, /workspaces went to %s", loc)
		}
		browserScreenshot(t, ctx, "login")
		browserDo(t, ctx,
			chromedp.SendKeys(chromedp.ID("email"), owner.Email),
			chromedp.SendKeys(chromedp.ID("password"), testPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("org-name")),
		)
		if loc := browserRun(t, ctx, chromedp.Location()); loc != ts.URL+"/workspaces" {
			t.Errorf("after sign-in the browser is at %s, want %s/workspaces", loc, ts.URL)
		}

		// A fresh sign-in lands on the projects with the organization's name.
		ctx = newBrowser(t)
		signInBrowser(t, ctx, ts, owner.Email)
		if loc := browserRun(t, ctx, chromedp.Location()); loc != ts.URL+"/projects" {
			t.Errorf("after sign-in the browser is at %s, want %s/projects", loc, ts.URL)
		}
		if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("org-name"))); got != org.Title {
			t.Errorf("header shows organization %q, want %q", got, org.Title)
		}
		if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("who-email"))); got != owner.Email {
			t.Errorf("header shows %q, want %q", got, owner.Email)
		}
		if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("who-role"))); got != "Owner" {
			t.Errorf("header shows role %q, want Owner", got)
		}
		browserScreenshot(t, ctx, "projects")
	})
}

func TestBrowserRoleChange(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		org, _ := ts.MustOrg(t, "acme")
		admin := ts.MustMember(t, org.ID, "admin@acme.example", glossa.RoleAdministrator)
		member := ts.MustMember(t, org.ID, "ann@acme.example", glossa.RoleAnnotator)
		ctx := newBrowser(t)
		signInBrowser(t, ctx, ts, admin.Email)

		id := formatID(member.ID)
		browserDo(t, ctx,
			chromedp.Click(chromedp.CSS(`nav a[href="/organization/members"]`)),
			chromedp.WaitVisible(chromedp.ID("role-"+id)),
			chromedp.SetValue(chromedp.ID("role-"+id), "Manager"),
			chromedp.Click(chromedp.ID("save-role-"+id)),
			chromedp.WaitVisible(chromedp.ID("notice")),
		)
		browserScreenshot(t, ctx, "members")
		if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("notice"))); !strings.Contains(got, "Role saved") {
			t.Errorf("notice = %q, want the role saved", got)
		}
		if got := browserRun(t, ctx, chromedp.Text(chromedp.CSS("#member-"+id+" td.role"))); got != "Manager" {
			t.Errorf("the page shows role %q, want Manager", got)
		}
		if got := browserRun(t, ctx, chromedp.Value(chromedp.ID("role-"+id))); got != "Manager" {
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
		ctx := newBrowser(t)
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

		browserDo(t, ctx,
			chromedp.Click(chromedp.ID("sign-out")),
			chromedp.WaitVisible(chromedp.ID("login-form")),
		)
		if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("notice"))); !strings.Contains(got, "signed out") {
			t.Errorf("notice = %q, want a signed-out notice", got)
		}

		// The old cookie, put back into the browser, opens nothing: the
		// session ended on the server, not only in the browser.
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: session.Name, Value: session.Value, URL: ts.URL, Path: "/",
		}); err != nil {
			t.Fatal(err)
		}
		browserDo(t, ctx,
			chromedp.Navigate(ts.URL+"/projects"),
			chromedp.WaitVisible(chromedp.ID("login-form")),
		)
		if loc := browserRun(t, ctx, chromedp.Location()); !strings.HasPrefix(loc, ts.URL+"/user/login") {
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
	ctx := newBrowser(t)
	signInBrowser(t, ctx, ts, owner.Email)

	browserDo(t, ctx,
		chromedp.SendKeys(chromedp.ID("title"), "Sentiment"),
		chromedp.Click(chromedp.CSS(`#new-project ~ form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("import-form")),
		chromedp.SendKeys(chromedp.ID("import-text"), `[{"data": {"text": "good"}}, {"data": {"text": "bad"}}]`),
		chromedp.Click(chromedp.ID("import-button")),
		chromedp.WaitVisible(chromedp.CSS("#import-result.ok")),
	)
	if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("import-result"))); !strings.Contains(got, "Imported 2 task(s)") {
		t.Errorf("import result = %q", got)
	}
	projects, err := ts.DB.FindProjects(context.Background(), glossa.ProjectFilter{OrgID: org.ID})
	if err != nil || len(projects) != 1 || projects[0].TaskCount != 2 {
		t.Fatalf("projects = %+v, %v; want one with 2 tasks", projects, err)
	}

	// A bad file is refused whole, with the server's message.
	browserDo(t, ctx,
		chromedp.SendKeys(chromedp.ID("import-text"), `[{"data": {"text": "cut off"`),
		chromedp.Click(chromedp.ID("import-button")),
		chromedp.WaitVisible(chromedp.CSS("#import-result.bad")),
	)
	if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("import-result"))); !strings.HasPrefix(got, "Nothing was imported: ") {
		t.Errorf("import result = %q", got)
	}
	browserDo(t, ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("tasks")),
	)
	if got := browserRun(t, ctx, chromedp.Text(chromedp.ID("task-count"))); got != "2" {
		t.Errorf("task count = %q, want 2", got)
	}
	browserScreenshot(t, ctx, "project")
}

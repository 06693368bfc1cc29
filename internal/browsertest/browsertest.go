// Package browsertest starts headless Chromium (Debian's) for tests and
// drives it with chromedp, with the flags this machine needs and failure
// reports that show the page. Without Chromium a test is skipped locally and
// fails under make test (GLOSSA_TEST_REQUIRE_ALL), where nothing may be
// skipped.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds a whole browser session of one test.
const Timeout = 60 * time.Second

// ChromiumPath finds Chromium: $GLOSSA_TEST_CHROMIUM, else Debian's. Without
// one the test is skipped, except under make test (GLOSSA_TEST_REQUIRE_ALL),
// where no test may be skipped.
func ChromiumPath(tb testing.TB) string {
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

// New starts a headless Chromium with a fresh profile (chromedp
// makes a temporary one and removes it) for one test. The returned context
// ends after Timeout; the browser is stopped when the test ends.
//
// The machine has no outside network: the flags keep Chromium from
// reaching for it (QUIC, background updates, sync), which would stall it.
func New(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(t)),
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
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
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

// stepTimeout bounds one Do or Run call, leaving time within
// Timeout to report what the page showed when a step failed.
const stepTimeout = 20 * time.Second

// Do runs browser steps, failing the test when one fails.
func Do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		failed(t, ctx, err)
	}
}

// Run runs one browser action that returns a value.
func Run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		failed(t, ctx, err)
	}
	return v
}

// failed fails the test with the page's address and text, and a
// screenshot if GLOSSA_TEST_SCREENSHOTS names a directory.
func failed(t *testing.T, ctx context.Context, err error) {
	t.Helper()
	Screenshot(t, ctx, "failure")
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	page, perr := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if perr != nil {
		page = "(unreadable: " + perr.Error() + ")"
	}
	t.Fatalf("browser: %v\npage: %s", err, page)
}

// Screenshot saves the page as a PNG in $GLOSSA_TEST_SCREENSHOTS, for a
// person to look at; without that variable it does nothing.
func Screenshot(t *testing.T, ctx context.Context, name string) {
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

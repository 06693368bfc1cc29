package idptest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/glossa-dev/glossa/internal/browsertest"
	"github.com/glossa-dev/glossa/internal/idptest"
)

// TestBrowser signs in through each IdP in headless Chromium, the way a
// person would: the IdP's own login page, its own auto-submit page and
// JavaScript, the browser's cookie rules on plain-HTTP loopback, and a real
// POST to an ACS (a stand-in SP that records what it receives).
func TestBrowser(t *testing.T) {
	browser := browsertest.New(t)

	posts := make(chan url.Values, 4)
	acs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/saml/acme/acs" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		posts <- r.PostForm
		fmt.Fprint(w, `<!DOCTYPE html><title>ACS</title><p id="acs-ok">received</p>`)
	}))
	defer acs.Close()
	sp := newSPAt(t, acs.URL+"/saml/acme")

	for _, tc := range []struct {
		name  string
		start starter
	}{
		{"simplesamlphp", idptest.StartSimpleSAMLphp},
		{"pysaml2", idptest.StartPySAML2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := idptest.Options{SignResponse: true, SignAssertion: true, Encrypt: idptest.AES128CBC}
			idp := tc.start(t, idptest.SP{MetadataXML: sp.metadata}, opts)
			alice := user(idp, "alice")
			id := "_browser_" + tc.name
			u := sp.authnRequestURL(t, idp, request{id: id, acs: sp.acs, relayState: "r-" + tc.name, nameIDFormat: idptest.NameIDPersistent})
			err := chromedp.Do(browser,
				chromedp.Navigate(u),
				chromedp.WaitVisible(chromedp.CSS(`input[type=password]`)),
				chromedp.SendKeys(chromedp.CSS(`input[name=username]`), alice.Username),
				chromedp.SendKeys(chromedp.CSS(`input[type=password]`), alice.Password),
				chromedp.Submit(chromedp.CSS(`input[type=password]`)),
				chromedp.WaitVisible(chromedp.ID("acs-ok")),
			)
			if err != nil {
				page, _ := chromedp.Run(browser, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
				t.Fatalf("browser: %v\npage: %s", err, page)
			}
			select {
			case form := <-posts:
				checkResponse(t, idp, sp, want{opts: opts, user: alice, acs: sp.acs, inResponseTo: id,
					relayState: "r-" + tc.name, nameIDFormat: idptest.NameIDPersistent},
					sp.acs, form.Get("SAMLResponse"), form.Get("RelayState"))
			case <-time.After(5 * time.Second):
				t.Fatal("the ACS received nothing")
			}
		})
	}
}

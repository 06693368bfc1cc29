package saml_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// TestMetadataFetch: metadata is fetched and read; internal addresses and
// plain HTTP are refused unless allowed; bad answers are clear errors.
func TestMetadataFetch(t *testing.T) {
	k := samlattack.MustKeys(t)
	good := k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/md":
			w.Write([]byte(good))
		case "/big":
			w.Write([]byte(strings.Repeat(" ", 2<<20)))
		case "/html":
			w.Write([]byte("<html><body>login</body></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	// The test server is on loopback and plain HTTP: refused by default.
	strict := &saml.MetadataFetcher{}
	if _, _, err := strict.Fetch(ctx, srv.URL+"/md", ""); err == nil || !strings.Contains(glossa.ErrorMessage(err), "https") {
		t.Fatalf("plain HTTP fetched: %v", err)
	}
	if _, _, err := strict.Fetch(ctx, strings.Replace(srv.URL, "http:", "https:", 1)+"/md", ""); err == nil || !strings.Contains(glossa.ErrorMessage(err), "private or internal") {
		t.Fatalf("loopback fetched: %v", err)
	}
	for _, internal := range []string{"https://169.254.169.254/latest/meta-data", "https://10.0.0.1/md", "https://[::1]/md"} {
		if _, _, err := strict.Fetch(ctx, internal, ""); err == nil || !strings.Contains(glossa.ErrorMessage(err), "private or internal") {
			t.Errorf("%s: %v", internal, err)
		}
	}

	open := &saml.MetadataFetcher{AllowPrivate: true, Timeout: 5 * time.Second}
	doc, md, err := open.Fetch(ctx, srv.URL+"/md", "")
	if err != nil || string(doc) != good || md.EntityID != samlattack.IdPEntityID || len(md.SigningCerts) != 1 {
		t.Fatalf("fetch = %v, %+v", err, md)
	}
	for path, want := range map[string]string{"/missing": "HTTP 404", "/big": "larger than 1 MiB", "/html": ""} {
		if _, _, err := open.Fetch(ctx, srv.URL+path, ""); err == nil || !strings.Contains(glossa.ErrorMessage(err), want) {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestNextMetadataRefresh(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		md   *saml.IdPMetadata
		want time.Time
	}{
		{"no hints: a day", &saml.IdPMetadata{}, at.Add(24 * time.Hour)},
		{"cacheDuration", &saml.IdPMetadata{CacheDuration: 6 * time.Hour}, at.Add(6 * time.Hour)},
		{"validUntil soon: halfway there", &saml.IdPMetadata{ValidUntil: at.Add(4 * time.Hour)}, at.Add(2 * time.Hour)},
		{"never sooner than five minutes", &saml.IdPMetadata{CacheDuration: time.Second}, at.Add(5 * time.Minute)},
		{"unparsable copy", nil, at.Add(24 * time.Hour)},
	}
	for _, c := range cases {
		if got := saml.NextMetadataRefresh(c.md, at); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

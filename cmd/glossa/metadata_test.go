package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/saml"
	"github.com/glossa-dev/glossa/store"
)

// TestRefreshMetadata: a connection whose metadata copy is due is fetched
// again; when the IdP fails, the last good copy stays and the error is
// recorded for the settings page.
func TestRefreshMetadata(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org := &glossa.Organization{Title: "Acme", Slug: "acme"}
	if err := db.CreateOrganization(ctx, org, &glossa.User{Email: "owner@acme.example"}); err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(placeholderMetadata(t), "https://placeholder.example/idp", "https://idp.acme.example/old", 1)
	fresh := strings.Replace(placeholderMetadata(t), "https://placeholder.example/idp", "https://idp.acme.example/new", 1)
	var failing atomic.Bool
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, fresh)
	}))
	defer idp.Close()
	longAgo := time.Now().Add(-48 * time.Hour)
	conn := &glossa.SAMLConnection{OrgID: org.ID, MetadataURL: idp.URL, MetadataXML: old, FetchedAt: &longAgo}
	if err := db.SaveSAMLConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	fetcher := &saml.MetadataFetcher{AllowPrivate: true}
	refreshOnce := func() *glossa.SAMLConnection {
		t.Helper()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { refreshMetadata(rctx, db, fetcher, slog.New(slog.DiscardHandler)); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := db.FindSAMLConnection(ctx, org.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.FetchedAt != nil && c.FetchedAt.After(longAgo.Add(time.Hour)) {
				cancel()
				<-done
				return c
			}
			if time.Now().After(deadline) {
				t.Fatal("the refresher did not fetch a due connection")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c := refreshOnce()
	if c.MetadataXML != fresh || c.FetchError != "" {
		t.Fatalf("after refresh: error %q, new copy %t", c.FetchError, c.MetadataXML == fresh)
	}

	failing.Store(true)
	c.FetchedAt = &longAgo
	if err := db.SaveSAMLConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	c = refreshOnce()
	if c.MetadataXML != fresh || !strings.Contains(c.FetchError, "HTTP 503") || !strings.Contains(c.FetchError, "last good copy") {
		t.Fatalf("after a failed refresh: error %q, kept copy %t", c.FetchError, c.MetadataXML == fresh)
	}
}

// TestMetadataCheckedOnSave: pasted metadata gets the full reading when it
// is saved, so a connection is never saved that sign-in could not use; a
// byte-order mark is dropped.
func TestMetadataCheckedOnSave(t *testing.T) {
	s := startE2EServer(t)
	noSSO := strings.Replace(placeholderMetadata(t), `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://placeholder.example/sso"/>`, "", 1)
	v := s.api(t, "POST", "/api/saml/settings", map[string]any{"metadata_xml": noSSO}, http.StatusBadRequest)
	if msg := v["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "SingleSignOnService") {
		t.Fatalf("message = %q", msg)
	}
	v = s.api(t, "POST", "/api/saml/settings", map[string]any{"metadata_xml": "\ufeff" + placeholderMetadata(t)}, http.StatusOK)
	if strings.HasPrefix(v["metadata_xml"].(string), "\ufeff") {
		t.Fatal("the byte-order mark was kept")
	}
}

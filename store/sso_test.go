package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
)

// testSAMLConnections: a connection round-trips every field, domains route
// to one organization only, and everything is scoped to its organization.
func testSAMLConnections(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	_, err := db.FindSAMLConnection(ctx, a.org.ID)
	wantError(t, err, glossa.ENOTFOUND, "SSO connection not found.")

	c := &glossa.SAMLConnection{
		OrgID: a.org.ID, MetadataXML: "<EntityDescriptor/>", MetadataURL: "https://idp.example/metadata", IdPProvider: "okta",
		Domains: []string{"a.example", "A-Labs.example"}, MappingEmail: "email", MappingGroups: "groups",
		RolesGroups:      []glossa.GroupMapping{{Name: "Manager", Group: "labelers-leads"}},
		WorkspacesGroups: []glossa.GroupMapping{{Name: "Main", Group: "labelers"}},
		ProjectsGroups:   []glossa.ProjectMapping{{ProjectID: 7, Group: "reviewers", Role: glossa.ProjectReviewer}},
		EnforceSSO:       true, AllowIdPInitiated: true, DefaultRole: glossa.RoleAnnotator, SignAuthnRequests: true,
		ClockSkew: 90 * time.Second,
	}
	if err := db.SaveSAMLConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	if c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Errorf("times: created %v, updated %v", c.CreatedAt, c.UpdatedAt)
	}
	got, err := db.FindSAMLConnection(ctx, a.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *c
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("FindSAMLConnection (-want +got):\n%s", diff)
	}
	byDomain, err := db.FindSAMLConnectionByDomain(ctx, " a-labs.EXAMPLE ")
	if err != nil || byDomain.IdPProvider != "okta" || byDomain.OrgID != a.org.ID {
		t.Fatalf("by domain: %+v, %v", byDomain, err)
	}
	_, err = db.FindSAMLConnectionByDomain(ctx, "b.example")
	wantCode(t, err, glossa.ENOTFOUND)

	// Another organization cannot claim a's domain, and its failed save
	// changes nothing.
	wantCode(t, db.SaveSAMLConnection(ctx, &glossa.SAMLConnection{OrgID: b.org.ID, Domains: []string{"b.example", "a.example"}}), glossa.ECONFLICT)
	_, err = db.FindSAMLConnection(ctx, b.org.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	_, err = db.FindSAMLConnectionByDomain(ctx, "b.example")
	wantCode(t, err, glossa.ENOTFOUND)

	// Replacing keeps the creation time and replaces the domains.
	ts := c.CreatedAt
	c.Domains = []string{"new.example"}
	c.EnforceSSO = false
	if err := db.SaveSAMLConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindSAMLConnection(ctx, a.org.ID)
	if !got.CreatedAt.Equal(ts) || got.EnforceSSO || len(got.Domains) != 1 {
		t.Errorf("after replace: %+v", got)
	}
	_, err = db.FindSAMLConnectionByDomain(ctx, "a.example")
	wantCode(t, err, glossa.ENOTFOUND)
	// Now b may take it.
	if err := db.SaveSAMLConnection(ctx, &glossa.SAMLConnection{OrgID: b.org.ID, Domains: []string{"a.example"}}); err != nil {
		t.Fatal(err)
	}

	if all, err := db.FindSAMLConnections(ctx); err != nil || len(all) != 2 || all[0].OrgID != a.org.ID || all[1].OrgID != b.org.ID {
		t.Fatalf("FindSAMLConnections = %+v, %v", all, err)
	}

	// Deleting a's connection leaves b's alone.
	if err := db.DeleteSAMLConnection(ctx, a.org.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.FindSAMLConnection(ctx, a.org.ID)
	wantCode(t, err, glossa.ENOTFOUND)
	if _, err := db.FindSAMLConnection(ctx, b.org.ID); err != nil {
		t.Errorf("b's connection went with a's: %v", err)
	}
	if err := db.DeleteSAMLConnection(ctx, a.org.ID); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	wantCode(t, db.SaveSAMLConnection(ctx, &glossa.SAMLConnection{OrgID: 99999}), glossa.ENOTFOUND)
}

// testSAMLState: SP keys, pending requests (one use, bound to the browser,
// expiring, scoped), the replay cache and identity links.
func testSAMLState(t *testing.T, f *fixture) {
	ctx := context.Background()
	db := f.db
	a := MustCreateOrg(t, db, "a")
	b := MustCreateOrg(t, db, "b")
	now := time.Now().UTC()

	// Keys: newest first, retired ones gone, scoped.
	k1 := &glossa.SPKey{OrgID: a.org.ID, Purpose: glossa.KeySigning, CertPEM: "cert1", SealedKey: []byte{1, 2, 0, 255}}
	k2 := &glossa.SPKey{OrgID: a.org.ID, Purpose: glossa.KeySigning, CertPEM: "cert2", SealedKey: []byte{3}}
	for _, k := range []*glossa.SPKey{k1, k2} {
		if err := db.CreateSPKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, db.CreateSPKey(ctx, &glossa.SPKey{OrgID: a.org.ID, Purpose: "other"}), glossa.EINVALID)
	keys, err := db.FindSPKeys(ctx, a.org.ID)
	if err != nil || len(keys) != 2 || keys[0].ID != k2.ID || string(keys[1].SealedKey) != string([]byte{1, 2, 0, 255}) {
		t.Fatalf("keys = %+v, %v", keys, err)
	}
	wantCode(t, db.RetireSPKey(ctx, b.org.ID, k1.ID, now), glossa.ENOTFOUND)
	if err := db.RetireSPKey(ctx, a.org.ID, k1.ID, now); err != nil {
		t.Fatal(err)
	}
	if keys, _ := db.FindSPKeys(ctx, a.org.ID); len(keys) != 1 || keys[0].ID != k2.ID {
		t.Fatalf("after retiring: %+v", keys)
	}
	if keys, _ := db.FindSPKeys(ctx, b.org.ID); len(keys) != 0 {
		t.Fatalf("b sees a's keys: %+v", keys)
	}

	// Pending requests.
	req := &glossa.SAMLRequest{ID: "_req1", OrgID: a.org.ID, RelayState: "relay1", BrowserHash: "browser1", ReturnTo: "/projects/3", ExpiresAt: now.Add(10 * time.Minute)}
	if err := db.CreateSAMLRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	_, err = db.TakeSAMLRequest(ctx, b.org.ID, "relay1", "browser1", now)
	wantCode(t, err, glossa.ENOTFOUND) // another organization's ACS
	_, err = db.TakeSAMLRequest(ctx, a.org.ID, "relay1", "other browser", now)
	wantCode(t, err, glossa.ENOTFOUND) // another browser
	_, err = db.TakeSAMLRequest(ctx, a.org.ID, "relay1", "browser1", now.Add(11*time.Minute))
	wantCode(t, err, glossa.ENOTFOUND) // too late
	got, err := db.TakeSAMLRequest(ctx, a.org.ID, "relay1", "browser1", now)
	if err != nil || got.ID != "_req1" || got.ReturnTo != "/projects/3" || got.Purpose != glossa.SAMLSignIn {
		t.Fatalf("take = %+v, %v", got, err)
	}
	_, err = db.TakeSAMLRequest(ctx, a.org.ID, "relay1", "browser1", now)
	wantCode(t, err, glossa.ENOTFOUND) // one use

	// Replay cache: one use per organization.
	if err := db.ConsumeAssertion(ctx, a.org.ID, "_a1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.ConsumeAssertion(ctx, a.org.ID, "_a1", now.Add(time.Hour)), glossa.ECONFLICT)
	if err := db.ConsumeAssertion(ctx, b.org.ID, "_a1", now.Add(time.Hour)); err != nil {
		t.Errorf("the same ID at another organization: %v", err)
	}
	// An ID whose time has passed may be recorded again; a live one may
	// not. DeleteExpiredAssertions clears only the expired ones.
	clock := db.Now
	if err := db.ConsumeAssertion(ctx, a.org.ID, "_old", clock().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.ConsumeAssertion(ctx, a.org.ID, "_old", now.Add(time.Hour)); err != nil {
		t.Errorf("an expired ID was not taken over: %v", err)
	}
	wantCode(t, db.ConsumeAssertion(ctx, a.org.ID, "_old", now.Add(time.Hour)), glossa.ECONFLICT)
	if err := db.ConsumeAssertion(ctx, a.org.ID, "_gone", clock().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteExpiredAssertions(ctx, clock()); err != nil || n != 1 {
		t.Errorf("DeleteExpiredAssertions = %d, %v; want 1 (only _gone)", n, err)
	}
	wantCode(t, db.ConsumeAssertion(ctx, a.org.ID, "_a1", now.Add(time.Hour)), glossa.ECONFLICT)

	// Identities link only to users of the same organization.
	ann := MustCreateMember(t, db, a.org.ID, "ann@a.example", glossa.RoleAnnotator)
	wantCode(t, db.LinkSAMLIdentity(ctx, b.org.ID, "https://idp", "ann", ann.ID), glossa.ENOTFOUND)
	if err := db.LinkSAMLIdentity(ctx, a.org.ID, "https://idp", "ann", ann.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.LinkSAMLIdentity(ctx, a.org.ID, "https://idp", "ann", a.owner.ID), glossa.ECONFLICT)
	if m, err := db.FindSAMLMember(ctx, a.org.ID, "https://idp", "ann"); err != nil || m.ID != ann.ID {
		t.Fatalf("find = %+v, %v", m, err)
	}
	_, err = db.FindSAMLMember(ctx, b.org.ID, "https://idp", "ann")
	wantCode(t, err, glossa.ENOTFOUND)
	_, err = db.FindSAMLMember(ctx, a.org.ID, "https://other-idp", "ann")
	wantCode(t, err, glossa.ENOTFOUND)

	// SAML sessions: an IdP logout ends the subject's sessions, narrowed by
	// session index, and only in its organization.
	mk := func(hash string, org int64, uid int64, nameID, index string) {
		t.Helper()
		if err := db.CreateSession(ctx, &glossa.Session{IDHash: hash, OrgID: org, UserID: uid, ExpiresAt: now.Add(time.Hour), Method: "saml",
			IdP: &glossa.SAMLSession{IdPEntityID: "https://idp", NameID: nameID, NameIDFormat: "persistent", SessionIndex: index}}); err != nil {
			t.Fatal(err)
		}
	}
	mk("s-ann-1", a.org.ID, ann.ID, "ann", "idx1")
	mk("s-ann-2", a.org.ID, ann.ID, "ann", "idx2")
	mk("s-owner", a.org.ID, a.owner.ID, "owner", "idx1")
	mk("s-b", b.org.ID, b.owner.ID, "ann", "idx1")
	if ss, err := db.FindSAMLSession(ctx, "s-ann-2"); err != nil || ss.SessionIndex != "idx2" || ss.NameID != "ann" {
		t.Fatalf("FindSAMLSession = %+v, %v", ss, err)
	}
	if n, err := db.DeleteSAMLSessions(ctx, a.org.ID, "https://idp", "ann", []string{"idx1"}); err != nil || n != 1 {
		t.Fatalf("delete by index = %d, %v", n, err)
	}
	if n, err := db.DeleteSAMLSessions(ctx, a.org.ID, "https://idp", "ann", nil); err != nil || n != 1 {
		t.Fatalf("delete all of ann = %d, %v", n, err)
	}
	for hash, want := range map[string]string{"s-ann-1": glossa.ENOTFOUND, "s-ann-2": glossa.ENOTFOUND, "s-owner": "", "s-b": ""} {
		if _, err := db.FindSession(ctx, hash); glossa.ErrorCode(err) != want {
			t.Errorf("session %s after logout: %v", hash, err)
		}
	}
	_, err = db.FindSAMLSession(ctx, "s-ann-1")
	wantCode(t, err, glossa.ENOTFOUND)
}

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
	want.OrgID = 0 // not part of the stored document's JSON; the caller knows it
	got.OrgID = 0
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("FindSAMLConnection (-want +got):\n%s", diff)
	}
	byDomain, err := db.FindSAMLConnectionByDomain(ctx, " a-labs.EXAMPLE ")
	if err != nil || byDomain.IdPProvider != "okta" {
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

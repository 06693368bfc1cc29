package saml_test

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

func gm(pairs ...string) []glossa.GroupMapping {
	var out []glossa.GroupMapping
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, glossa.GroupMapping{Name: pairs[i], Group: pairs[i+1]})
	}
	return out
}

func TestMap(t *testing.T) {
	tests := []struct {
		name   string
		conn   glossa.SAMLConnection
		groups []string
		want   saml.Decision
	}{
		{
			name: "no groups, no default: Annotator",
			want: saml.Decision{Role: glossa.RoleAnnotator},
		},
		{
			name:   "no mapped group: the default role",
			conn:   glossa.SAMLConnection{DefaultRole: glossa.RoleNotActivated, RolesGroups: gm("Manager", "managers")},
			groups: []string{"everyone"},
			want:   saml.Decision{Role: glossa.RoleNotActivated},
		},
		{
			name: "a default of Owner is never granted",
			conn: glossa.SAMLConnection{DefaultRole: glossa.RoleOwner},
			want: saml.Decision{Role: glossa.RoleAnnotator},
		},
		{
			name: "an invalid default falls back to Annotator",
			conn: glossa.SAMLConnection{DefaultRole: "Wizard"},
			want: saml.Decision{Role: glossa.RoleAnnotator},
		},
		{
			name:   "one group",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Reviewer", "reviewers"), DefaultRole: glossa.RoleManager},
			groups: []string{"reviewers"},
			want:   saml.Decision{Role: glossa.RoleReviewer, RoleFromGroups: true},
		},
		{
			name:   "several groups: the highest role wins, whatever the order",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Annotator", "a", "Administrator", "b", "Manager", "c")},
			groups: []string{"c", "a", "b"},
			want:   saml.Decision{Role: glossa.RoleAdministrator, RoleFromGroups: true},
		},
		{
			name:   "a group mapped to Owner is ignored",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Owner", "root", "Reviewer", "reviewers")},
			groups: []string{"root", "reviewers"},
			want:   saml.Decision{Role: glossa.RoleReviewer, RoleFromGroups: true},
		},
		{
			name:   "only Owner mapped: the default",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Owner", "root"), DefaultRole: glossa.RoleAnnotator},
			groups: []string{"root"},
			want:   saml.Decision{Role: glossa.RoleAnnotator},
		},
		{
			name:   "unknown role names are ignored; Label Studio codes work",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Wizard", "w", "MA", "m")},
			groups: []string{"w", "m"},
			want:   saml.Decision{Role: glossa.RoleManager, RoleFromGroups: true},
		},
		{
			name:   "groups match exactly, after trimming",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Administrator", "Admins", "Manager", " managers ")},
			groups: []string{"admins", "managers"},
			want:   saml.Decision{Role: glossa.RoleManager, RoleFromGroups: true},
		},
		{
			name:   "a group may lower the role below the default",
			conn:   glossa.SAMLConnection{RolesGroups: gm("Not Activated", "pending"), DefaultRole: glossa.RoleAnnotator},
			groups: []string{"pending"},
			want:   saml.Decision{Role: glossa.RoleNotActivated, RoleFromGroups: true},
		},
		{
			name:   "workspaces: each once, in mapping order",
			conn:   glossa.SAMLConnection{WorkspacesGroups: gm("Medical", "doctors", "Legal", "lawyers", "Medical", "nurses", "Secret", "spies", " ", "doctors")},
			groups: []string{"nurses", "doctors", "lawyers"},
			want:   saml.Decision{Role: glossa.RoleAnnotator, Workspaces: []string{"Medical", "Legal"}},
		},
		{
			name: "projects: strongest role per project, Inherit at the org role's rank",
			conn: glossa.SAMLConnection{
				RolesGroups: gm("Manager", "managers"),
				ProjectsGroups: []glossa.ProjectMapping{
					{ProjectID: 1, Group: "annotators", Role: glossa.ProjectAnnotator},
					{ProjectID: 1, Group: "reviewers", Role: glossa.ProjectReviewer},
					{ProjectID: 2, Group: "reviewers", Role: glossa.ProjectReviewer},
					{ProjectID: 2, Group: "managers", Role: glossa.ProjectInherit},
					{ProjectID: 3, Group: "others", Role: glossa.ProjectReviewer},
					{ProjectID: 4, Group: "managers", Role: "Boss"},
					{ProjectID: 0, Group: "managers", Role: glossa.ProjectReviewer},
				},
			},
			groups: []string{"annotators", "reviewers", "managers"},
			want: saml.Decision{Role: glossa.RoleManager, RoleFromGroups: true, Projects: []saml.ProjectGrant{
				{ProjectID: 1, Role: glossa.ProjectReviewer},
				{ProjectID: 2, Role: glossa.ProjectInherit},
			}},
		},
		{
			name: "projects: Inherit loses to Reviewer for an Annotator, ties keep the explicit role",
			conn: glossa.SAMLConnection{
				ProjectsGroups: []glossa.ProjectMapping{
					{ProjectID: 5, Group: "g", Role: glossa.ProjectInherit},
					{ProjectID: 5, Group: "g", Role: glossa.ProjectReviewer},
					{ProjectID: 6, Group: "g", Role: glossa.ProjectInherit},
					{ProjectID: 6, Group: "g", Role: glossa.ProjectAnnotator},
					{ProjectID: 7, Group: "g", Role: glossa.ProjectAnnotator},
					{ProjectID: 7, Group: "g", Role: glossa.ProjectInherit},
				},
			},
			groups: []string{"g"},
			want: saml.Decision{Role: glossa.RoleAnnotator, Projects: []saml.ProjectGrant{
				{ProjectID: 5, Role: glossa.ProjectReviewer},
				{ProjectID: 6, Role: glossa.ProjectAnnotator},
				{ProjectID: 7, Role: glossa.ProjectAnnotator},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := saml.Map(&tt.conn, &glossa.SAMLIdentity{Groups: tt.groups})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Map (-want +got):\n%s", diff)
			}
		})
	}
}

func preset(name string) saml.AttributeNames {
	p, _ := saml.Preset(name)
	return p
}

func TestResolveAttributeNames(t *testing.T) {
	tests := []struct {
		name string
		conn glossa.SAMLConnection
		want saml.AttributeNames
	}{
		{"empty provider is custom", glossa.SAMLConnection{}, preset("custom")},
		{"unknown provider is custom", glossa.SAMLConnection{IdPProvider: "ping"}, preset("custom")},
		{"case-insensitive provider", glossa.SAMLConnection{IdPProvider: " Azure "}, preset("azure")},
		{"overrides replace the preset field", glossa.SAMLConnection{IdPProvider: "okta", MappingGroups: " roles ", MappingEmail: "mail"},
			saml.AttributeNames{Email: []string{"mail"}, FirstName: preset("okta").FirstName, LastName: preset("okta").LastName, Groups: []string{"roles"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, saml.ResolveAttributeNames(&tt.conn)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, p := range saml.Providers() {
		n, ok := saml.Preset(p)
		if !ok || len(n.Email) == 0 || len(n.FirstName) == 0 || len(n.LastName) == 0 || len(n.Groups) == 0 {
			t.Errorf("preset %s is incomplete: %+v", p, n)
		}
	}
	a, _ := saml.Preset("okta")
	a.Email[0] = "changed"
	if b, _ := saml.Preset("okta"); b.Email[0] == "changed" {
		t.Error("Preset returns the shared lists")
	}
	if _, ok := saml.Preset("ping"); ok {
		t.Error("unknown provider reported as known")
	}
}

// TestPresetFixtures: a response shaped like each IdP's (its NameID format,
// its claim names, its way of sending groups, its signing defaults) is
// accepted and mapped right with nothing but idp_provider set.
func TestPresetFixtures(t *testing.T) {
	const (
		ms   = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
		xs   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
		user = "bob@contoso.example"
	)
	mapping := func(c *glossa.SAMLConnection, adminGroup, annotatorGroup string) {
		c.RolesGroups = gm("Administrator", adminGroup, "Annotator", annotatorGroup)
		c.WorkspacesGroups = gm("Radiology", annotatorGroup)
		c.ProjectsGroups = []glossa.ProjectMapping{{ProjectID: 42, Group: adminGroup, Role: glossa.ProjectInherit}}
	}
	fractional := func(a *etree.Element) {
		// Entra and ADFS write seven fractional digits.
		for _, el := range []*etree.Element{a, a.FindElement("./Conditions"), a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")} {
			for _, key := range []string{"IssueInstant", "NotBefore", "NotOnOrAfter"} {
				if v := el.SelectAttrValue(key, ""); v != "" {
					el.CreateAttr(key, strings.TrimSuffix(v, "Z")+".1234567Z")
				}
			}
		}
	}
	tests := []struct {
		provider, nameID, nameIDFormat string
		attrs                          []samlattack.Attribute
		o                              samlattack.Options
		admin, annotator               string
		wantEmail, wantFirst, wantLast string
		wantGroups                     []string
	}{
		{
			provider: "adfs", nameID: `CONTOSO\bob`, nameIDFormat: saml.NameIDFormatUnspecified,
			attrs: []samlattack.Attribute{
				{Name: xs + "emailaddress", Values: []string{user}},
				{Name: xs + "givenname", Values: []string{"Bob"}},
				{Name: xs + "surname", Values: []string{"Builder"}},
				{Name: "http://schemas.xmlsoap.org/claims/Group", Values: []string{"Domain Users", "Glossa Admins", "Domain Users"}},
			},
			o:     samlattack.Options{SignAssertion: true, MutateAssertion: fractional},
			admin: "Glossa Admins", annotator: "Domain Users",
			wantEmail: user, wantFirst: "Bob", wantLast: "Builder", wantGroups: []string{"Domain Users", "Glossa Admins"},
		},
		{
			provider: "azure", nameID: user, nameIDFormat: saml.NameIDFormatEmail,
			attrs: []samlattack.Attribute{
				{Name: "http://schemas.microsoft.com/identity/claims/tenantid", Values: []string{"8c2f0a6e-0000-4000-8000-000000000000"}},
				{Name: "http://schemas.microsoft.com/identity/claims/objectidentifier", Values: []string{"5f1d0000-0000-4000-8000-000000000000"}},
				{Name: xs + "givenname", Values: []string{"Bob"}},
				{Name: xs + "surname", Values: []string{"Builder"}},
				{Name: xs + "emailaddress", Values: []string{user}},
				{Name: xs + "name", Values: []string{user}},
				{Name: ms + "groups", Values: []string{"glossa-admins", "glossa-annotators"}},
			},
			o:     samlattack.Options{SignAssertion: true, MutateAssertion: fractional},
			admin: "glossa-admins", annotator: "glossa-annotators",
			wantEmail: user, wantFirst: "Bob", wantLast: "Builder", wantGroups: []string{"glossa-admins", "glossa-annotators"},
		},
		{
			provider: "okta", nameID: user, nameIDFormat: saml.NameIDFormatUnspecified,
			attrs: []samlattack.Attribute{
				{Name: "email", Values: []string{user}},
				{Name: "firstName", Values: []string{"Bob"}},
				{Name: "lastName", Values: []string{"Builder"}},
				{Name: "groups", Values: []string{"Everyone", "Glossa-Admins"}},
			},
			o:     samlattack.Options{SignResponse: true, SignAssertion: true},
			admin: "Glossa-Admins", annotator: "Everyone",
			wantEmail: user, wantFirst: "Bob", wantLast: "Builder", wantGroups: []string{"Everyone", "Glossa-Admins"},
		},
		{
			provider: "onelogin", nameID: user, nameIDFormat: saml.NameIDFormatEmail,
			attrs: []samlattack.Attribute{
				{Name: "User.email", Values: []string{user}},
				{Name: "User.FirstName", Values: []string{"Bob"}},
				{Name: "User.LastName", Values: []string{"Builder"}},
				{Name: "PersonImmutableID", Values: []string{"bob"}},
				{Name: "memberOf", Values: []string{"Annotators"}},
			},
			o:     samlattack.Options{SignResponse: true},
			admin: "Admins", annotator: "Annotators",
			wantEmail: user, wantFirst: "Bob", wantLast: "Builder", wantGroups: []string{"Annotators"},
		},
		{
			provider: "google", nameID: user, nameIDFormat: saml.NameIDFormatEmail,
			attrs: []samlattack.Attribute{
				{Name: "firstName", Values: []string{"Bob"}},
				{Name: "lastName", Values: []string{"Builder"}},
				{Name: "groups", Values: []string{"glossa-admins@contoso.example"}},
			},
			o:     samlattack.Options{SignAssertion: true},
			admin: "glossa-admins@contoso.example", annotator: "all@contoso.example",
			wantEmail: user, wantFirst: "Bob", wantLast: "Builder", wantGroups: []string{"glossa-admins@contoso.example"},
		},
		{
			provider: "keycloak", nameID: "G-5c1e0000-0000-4000-8000-000000000000", nameIDFormat: saml.NameIDFormatPersistent,
			attrs: []samlattack.Attribute{
				{Name: "urn:oid:1.2.840.113549.1.9.1", FriendlyName: "email", Values: []string{user}},
				{Name: "urn:oid:2.5.4.42", FriendlyName: "givenName", Values: []string{"Bob"}},
				{Name: "urn:oid:2.5.4.4", FriendlyName: "surname", Values: []string{"Builder"}},
				{Name: "member", Values: []string{"/glossa/annotators"}},
				{Name: "Role", Values: []string{"offline_access", "uma_authorization"}},
			},
			o:     samlattack.Options{SignResponse: true},
			admin: "/glossa/admins", annotator: "/glossa/annotators",
			wantEmail: user, wantFirst: "Bob", wantLast: "Builder", wantGroups: []string{"/glossa/annotators"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			f := newFixture(t, func(_ *samlattack.Fixture, c *glossa.SAMLConnection, _ *saml.Keys) {
				c.IdPProvider = tt.provider
				mapping(c, tt.admin, tt.annotator)
			})
			o := tt.o
			o.NameID, o.NameIDFormat, o.Attributes = tt.nameID, tt.nameIDFormat, tt.attrs
			res, err := f.parse(f.Build(o))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			id := res.Identity
			got := []any{id.NameID, id.NameIDFormat, id.Email, id.FirstName, id.LastName, id.Groups}
			want := []any{tt.nameID, tt.nameIDFormat, tt.wantEmail, tt.wantFirst, tt.wantLast, tt.wantGroups}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			d := saml.Map(f.conn, id)
			wantRole := glossa.RoleAnnotator
			var wantWS []string
			var wantProjects []saml.ProjectGrant
			for _, g := range tt.wantGroups {
				if g == tt.admin {
					wantRole = glossa.RoleAdministrator
					wantProjects = []saml.ProjectGrant{{ProjectID: 42, Role: glossa.ProjectInherit}}
				}
				if g == tt.annotator {
					wantWS = []string{"Radiology"}
				}
			}
			if diff := cmp.Diff(saml.Decision{Role: wantRole, RoleFromGroups: true, Workspaces: wantWS, Projects: wantProjects}, d); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEmailFallsBackToNameID: without an email attribute, an email-shaped
// NameID of format emailAddress or unspecified is the email; a persistent
// NameID never is.
func TestEmailFallsBackToNameID(t *testing.T) {
	tests := []struct {
		format, nameID, want string
	}{
		{saml.NameIDFormatEmail, "carol@acme.example", "carol@acme.example"},
		{saml.NameIDFormatUnspecified, "carol@acme.example", "carol@acme.example"},
		{"-", "carol@acme.example", "carol@acme.example"},
		{saml.NameIDFormatUnspecified, `ACME\carol`, ""},
		{saml.NameIDFormatPersistent, "carol@acme.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.nameID, func(t *testing.T) {
			f := newFixture(t, nil)
			res, err := f.parse(f.Build(samlattack.Options{SignResponse: true, NameID: tt.nameID, NameIDFormat: tt.format, Attributes: []samlattack.Attribute{}}))
			if err != nil {
				t.Fatal(err)
			}
			if res.Identity.Email != tt.want {
				t.Errorf("Email = %q, want %q", res.Identity.Email, tt.want)
			}
		})
	}
}

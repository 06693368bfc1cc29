package glossa

import (
	"encoding/json"
	"time"
)

// SAMLConnection is one organization's connection to its SAML identity
// provider, with Label Studio Enterprise's settings fields and ours.
type SAMLConnection struct {
	OrgID int64 `json:"-"`

	// MetadataXML is the IdP's metadata, pasted, uploaded or last fetched
	// from MetadataURL (the last good copy is kept when a fetch fails).
	MetadataXML string     `json:"metadata_xml"`
	MetadataURL string     `json:"metadata_url"`
	FetchedAt   *time.Time `json:"metadata_fetched_at"`
	FetchError  string     `json:"metadata_fetch_error"`
	// MetadataSigningCert, when set (PEM), is the certificate that must
	// sign the metadata.
	MetadataSigningCert string `json:"metadata_signing_cert"`

	// IdPProvider picks the attribute-name preset: adfs, azure, okta,
	// onelogin, google, keycloak or custom.
	IdPProvider string `json:"idp_provider"`
	// Domains are the email domains that route to this IdP on the sign-in page.
	Domains []string `json:"domain"`

	MappingEmail     string `json:"mapping_email"`
	MappingFirstName string `json:"mapping_first_name"`
	MappingLastName  string `json:"mapping_last_name"`
	MappingGroups    string `json:"mapping_groups"`

	RolesGroups      []GroupMapping   `json:"roles_groups"`
	WorkspacesGroups []GroupMapping   `json:"workspaces_groups"`
	ProjectsGroups   []ProjectMapping `json:"projects_groups"`

	// ManualRoleManagement false makes the IdP the only source of roles and
	// memberships, synced at every sign-in.
	ManualRoleManagement bool `json:"manual_role_management"`
	// EnforceSSO refuses password sign-in to everyone but Owners.
	EnforceSSO bool `json:"enforce_sso"`
	// AllowIdPInitiated accepts unsolicited responses.
	AllowIdPInitiated bool `json:"allow_idp_initiated"`
	// DefaultRole is given to a person provisioned just in time whose
	// groups map to no role.
	DefaultRole Role `json:"default_role"`

	// RequireSignedResponse demands a signature over the whole Response;
	// otherwise a signed Assertion suffices.
	RequireSignedResponse bool `json:"require_signed_response"`
	// SignAuthnRequests signs SP-initiated requests (on by default).
	SignAuthnRequests bool `json:"sign_authn_requests"`
	// ClockSkew is the tolerance of the time checks (default 180 s).
	ClockSkew time.Duration `json:"-"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DefaultClockSkew is the default tolerance of SAML time checks.
const DefaultClockSkew = 180 * time.Second

// GroupMapping maps an IdP group to a role name or a workspace title,
// Label Studio's [name, group] pairs.
type GroupMapping struct {
	Name  string
	Group string
}

// ProjectMapping maps an IdP group to a project role.
type ProjectMapping struct {
	ProjectID int64       `json:"project_id"`
	Group     string      `json:"group"`
	Role      ProjectRole `json:"role"`
}

// SAMLIdentity is what a validated assertion says about a person. The
// identity key is (organization, IdPEntityID, NameID); the email is only
// an attribute.
type SAMLIdentity struct {
	IdPEntityID  string
	NameID       string
	NameIDFormat string
	SessionIndex string
	Email        string
	FirstName    string
	LastName     string
	Groups       []string
	// Attributes holds every attribute received, by name.
	Attributes map[string][]string
	// AssertionID and NotOnOrAfter feed the replay cache.
	AssertionID  string
	NotOnOrAfter time.Time
	// SessionNotOnOrAfter, when set, bounds the Glossa session.
	SessionNotOnOrAfter *time.Time
}

// MarshalJSON writes the pair as Label Studio does: ["name", "group"].
func (g GroupMapping) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]string{g.Name, g.Group})
}

// UnmarshalJSON reads a ["name", "group"] pair.
func (g *GroupMapping) UnmarshalJSON(b []byte) error {
	var pair []string
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return Errorf(EINVALID, "Each group mapping is a pair [\"name\", \"group\"].")
	}
	g.Name, g.Group = pair[0], pair[1]
	return nil
}

// SPKey is one of an organization's service-provider key pairs. The
// private key is stored sealed; several keys of a purpose live at once
// during a rotation (the newest signs, all decrypt and are published).
type SPKey struct {
	ID        int64
	OrgID     int64
	Purpose   string // "signing" or "encryption"
	CertPEM   string
	SealedKey []byte
	CreatedAt time.Time
	RetiredAt *time.Time
}

// SP key purposes.
const (
	KeySigning    = "signing"
	KeyEncryption = "encryption"
)

// SAMLRequest is a pending SP-initiated sign-in: the AuthnRequest's ID, the
// opaque RelayState handle that names it, the hash of the browser-binding
// cookie of the browser that started it, and the local path to return to.
type SAMLRequest struct {
	// Purpose is SAMLSignIn, SAMLTest or SAMLLogout.
	Purpose     string
	ID          string
	OrgID       int64
	RelayState  string
	BrowserHash string
	ReturnTo    string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Purposes of a pending SAML request.
const (
	SAMLSignIn = "signin"
	SAMLTest   = "test"
	SAMLLogout = "logout"
)

// SAMLSession ties a Glossa session to the IdP session it came from.
type SAMLSession struct {
	SessionIDHash string
	OrgID         int64
	IdPEntityID   string
	NameID        string
	NameIDFormat  string
	SessionIndex  string
}

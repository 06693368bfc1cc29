package saml

import (
	"slices"
	"strings"

	glossa "github.com/glossa-dev/glossa"
)

// AttributeNames are the attribute names tried, in order, for each profile
// field; the first attribute present in the assertion wins. Names are matched
// exactly against an Attribute's Name first, then without regard to case
// against its Name or FriendlyName.
type AttributeNames struct {
	Email     []string
	FirstName []string
	LastName  []string
	Groups    []string
}

// Claim URIs of Microsoft's WS-Federation claim vocabulary, which ADFS and
// Entra ID send in SAML assertions.
const (
	claimEmail     = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	claimUPN       = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	claimName      = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	claimGivenName = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
	claimSurname   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
	claimGroups    = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
	claimRole      = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	claimADFSGroup = "http://schemas.xmlsoap.org/claims/Group"
)

// presets are the attribute names each IdP sends by default or in its
// documented setup, by the idp_provider value of the SSO settings:
//
//   - adfs: ADFS claim rules ("Send LDAP Attributes as Claims"): E-Mail
//     Address, Given Name, Surname, and groups as "Group"
//     (http://schemas.xmlsoap.org/claims/Group, Token-Groups names) or as
//     Role; UPN when no email is released.
//   - azure: Entra ID's default claims (emailaddress, givenname, surname,
//     name = UPN) and its group claim .../identity/claims/groups, or
//     .../claims/role for app roles. Entra sends group Object IDs unless the
//     application is set to emit names ("sAMAccountName" or cloud group
//     names); the mapping compares them verbatim.
//   - okta: the attribute statements Okta's SAML setup suggests (email,
//     firstName, lastName) and a group attribute statement named groups.
//   - onelogin: OneLogin's SAML connector parameters User.email,
//     User.FirstName, User.LastName and memberOf.
//   - google: Google Workspace sends no attributes until mapped; these are
//     the names its admin console examples use (email, firstName, lastName,
//     and groups for "Group membership").
//   - keycloak: Keycloak's built-in X500 mappers (urn:oid:1.2.840.113549.1.9.1
//     email, urn:oid:2.5.4.42 givenName, urn:oid:2.5.4.4 surname, matched by
//     Name or FriendlyName), its group list mapper's default attribute
//     "member", and its role list mapper's "Role".
//   - custom, or anything else: Label Studio's defaults Email, FirstName,
//     LastName, Groups.
var presets = map[string]AttributeNames{
	"adfs": {
		Email:     []string{claimEmail, claimUPN},
		FirstName: []string{claimGivenName},
		LastName:  []string{claimSurname},
		Groups:    []string{claimADFSGroup, claimGroups, claimRole},
	},
	"azure": {
		Email:     []string{claimEmail, claimName},
		FirstName: []string{claimGivenName},
		LastName:  []string{claimSurname},
		Groups:    []string{claimGroups, claimRole},
	},
	"okta": {
		Email:     []string{"email", "Email", "emailAddress"},
		FirstName: []string{"firstName", "givenName"},
		LastName:  []string{"lastName", "surname"},
		Groups:    []string{"groups", "Groups", "memberOf"},
	},
	"onelogin": {
		Email:     []string{"User.email", "email"},
		FirstName: []string{"User.FirstName", "firstName"},
		LastName:  []string{"User.LastName", "lastName"},
		Groups:    []string{"memberOf", "groups", "Groups"},
	},
	"google": {
		Email:     []string{"email", "Email"},
		FirstName: []string{"firstName", "first_name", "givenName"},
		LastName:  []string{"lastName", "last_name", "surname"},
		Groups:    []string{"groups", "Groups"},
	},
	"keycloak": {
		Email:     []string{"urn:oid:1.2.840.113549.1.9.1", "email"},
		FirstName: []string{"urn:oid:2.5.4.42", "givenName", "firstName"},
		LastName:  []string{"urn:oid:2.5.4.4", "surname", "lastName"},
		Groups:    []string{"member", "groups", "Role"},
	},
	"custom": {
		Email:     []string{"Email"},
		FirstName: []string{"FirstName"},
		LastName:  []string{"LastName"},
		Groups:    []string{"Groups"},
	},
}

// Providers lists the idp_provider values that have a preset.
func Providers() []string {
	return []string{"adfs", "azure", "okta", "onelogin", "google", "keycloak", "custom"}
}

// Preset returns a copy of the attribute names of an idp_provider value
// (case and surrounding spaces ignored), and whether it is known; an unknown
// or empty provider gets the custom preset.
func Preset(provider string) (AttributeNames, bool) {
	p, ok := presets[strings.ToLower(strings.TrimSpace(provider))]
	if !ok {
		p = presets["custom"]
	}
	return AttributeNames{
		Email:     slices.Clone(p.Email),
		FirstName: slices.Clone(p.FirstName),
		LastName:  slices.Clone(p.LastName),
		Groups:    slices.Clone(p.Groups),
	}, ok
}

// ResolveAttributeNames returns the names used for conn: the preset of
// conn.IdPProvider (custom when unknown or empty), with each of
// mapping_email, mapping_first_name, mapping_last_name and mapping_groups,
// when set, replacing the preset's list for its field.
func ResolveAttributeNames(conn *glossa.SAMLConnection) AttributeNames {
	p, _ := Preset(conn.IdPProvider)
	override := func(list []string, v string) []string {
		if v = strings.TrimSpace(v); v != "" {
			return []string{v}
		}
		return slices.Clone(list)
	}
	return AttributeNames{
		Email:     override(p.Email, conn.MappingEmail),
		FirstName: override(p.FirstName, conn.MappingFirstName),
		LastName:  override(p.LastName, conn.MappingLastName),
		Groups:    override(p.Groups, conn.MappingGroups),
	}
}

// attribute is one saml:Attribute read from a verified assertion.
type attribute struct {
	name, friendlyName string
	values             []string
}

// lookup returns the values of the first of names that the attributes
// carry.
func lookup(attrs []attribute, names []string) []string {
	for _, n := range names {
		for _, a := range attrs {
			if a.name == n {
				return a.values
			}
		}
	}
	for _, n := range names {
		for _, a := range attrs {
			if strings.EqualFold(a.name, n) || (a.friendlyName != "" && strings.EqualFold(a.friendlyName, n)) {
				return a.values
			}
		}
	}
	return nil
}

// first returns the first non-blank value, trimmed.
func first(values []string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// dedupe returns the trimmed non-blank values, each once, in first-seen
// order.
func dedupe(values []string) []string {
	out := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// fillProfile sets Email, FirstName, LastName and Groups of id from attrs.
// When no email attribute is present, the NameID is used as the email if
// its format is emailAddress or unspecified and it is a plain address: the
// IdP vouches for the NameID as much as for any attribute. The email is only
// ever an attribute; the identity key stays (IdP entity ID, NameID).
func fillProfile(id *glossa.SAMLIdentity, attrs []attribute, names AttributeNames) {
	id.Email = first(lookup(attrs, names.Email))
	if id.Email == "" && glossa.ValidateEmail(id.NameID) == nil {
		switch id.NameIDFormat {
		case NameIDFormatEmail, NameIDFormatUnspecified, "":
			id.Email = id.NameID
		}
	}
	id.FirstName = first(lookup(attrs, names.FirstName))
	id.LastName = first(lookup(attrs, names.LastName))
	id.Groups = dedupe(lookup(attrs, names.Groups))
}

package stsemu

import (
	"fmt"
	"net/http"
	"strings"
)

// Error is an STS error as the Query protocol carries it: the Code and
// Message of an ErrorResponse and the HTTP status it is sent with
// (reference §6). The emulator answers every refusal with one; an Issuer may
// return one too, to choose the error the caller sees.
type Error struct {
	Status  int    // HTTP status: 400 or 403 for the caller's errors, 5xx for the emulator's
	Code    string // e.g. "InvalidIdentityToken", "AccessDenied"
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes of AssumeRoleWithSAML (reference §6; [API] error shapes and
// botocore's service-2.json). The SDK maps the modeled ones to typed errors:
// ExpiredTokenException → *types.ExpiredTokenException, InvalidIdentityToken →
// *types.InvalidIdentityTokenException, IDPRejectedClaim →
// *types.IDPRejectedClaimException, MalformedPolicyDocument →
// *types.MalformedPolicyDocumentException. AccessDenied and ValidationError
// are not modeled and arrive as a smithy.GenericAPIError with that code.
const (
	CodeValidation       = "ValidationError"
	CodeMalformedPolicy  = "MalformedPolicyDocument"
	CodeInvalidIdentity  = "InvalidIdentityToken"
	CodeExpiredToken     = "ExpiredTokenException"
	CodeAccessDenied     = "AccessDenied"
	CodeIDPRejectedClaim = "IDPRejectedClaim"
	CodeInvalidAction    = "InvalidAction"
	CodeInternalFailure  = "InternalFailure"
)

// Messages. Those marked AWS are AWS's own words, as users and the IAM
// troubleshooting page quote them (reference §5, §6); the others are the
// emulator's, for refusals whose AWS wording no public source shows.
const (
	// AWS: troubleshoot_saml.md, cevoaustralia/aws-google-auth#270.
	MsgSignatureInvalid = "Response signature invalid"
	// AWS: troubleshoot_saml.md "Specified provider doesn't exist."; the code
	// it comes with is not published (InvalidIdentityToken is our choice).
	MsgNoSuchProvider = "Specified provider doesn't exist"
	// AWS: dbeaver/cloudbeaver#3112 shows STS relaying the discovery
	// service's error as InvalidIdentityToken with this text, followed by the
	// inner service's details (see issuerMismatch).
	MsgIssuerNotPresent = "Issuer not present in specified provider"
	// AWS: saml2aws#759 (reference §5).
	MsgExpired = "Response has expired"
	// AWS: gimme-aws-creds#251, onelogin-aws-cli#64 (reference §5).
	MsgRedeemWithin5Min = "Token must be redeemed within 5 minutes of issuance"
	// Emulator's: a NotBefore or IssueInstant in the future.
	MsgNotYetValid = "Response is not yet valid"
	// AWS: troubleshoot_saml.md.
	MsgNotAuthorized = "Not authorized to perform sts:AssumeRoleWithSAML"
	// AWS: troubleshoot_saml.md.
	MsgRoleSessionNameRequired = "RoleSessionName is required in AuthnResponse"
	MsgRoleSessionNameInvalid  = "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
	MsgSourceIdentityInvalid   = `Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"`
	// AWS: troubleshoot_saml.md (IAM's title for the error; code not published,
	// InvalidIdentityToken is our choice).
	MsgAudience = "Response does not contain the required audience"
	// AWS: [API] DurationSeconds; reference §6.
	MsgDurationExceedsMax = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
	// AWS: oktadev/okta-aws-cli-assume-role#307 (RoleArn naming a SAML provider).
	MsgRequestARNInvalid = "Request ARN is invalid"
	// AWS: IAM's message for a policy that is not JSON.
	MsgPolicyNotJSON = "The policy is not in the valid JSON format."
	// Emulator's: structural refusals of the SAML response.
	MsgInvalidResponse = "Invalid SAML response"
	// Emulator's: the IdP's Status is not Success.
	MsgIdPRejected = "The identity provider reported that authentication failed"
)

func newError(status int, code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Status: status, Code: code, Message: msg}
}

// Shorthands for the refusals of AssumeRoleWithSAML, by code.
func validationError(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeValidation, format, args...)
}

func invalidIdentity(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeInvalidIdentity, format, args...)
}

// invalidResponse is InvalidIdentityToken "Invalid SAML response: detail".
func invalidResponse(format string, args ...any) *Error {
	return invalidIdentity(MsgInvalidResponse+": "+format, args...)
}

func signatureInvalid() *Error { return invalidIdentity(MsgSignatureInvalid) }

func expired(msg string) *Error {
	return newError(http.StatusBadRequest, CodeExpiredToken, "%s", msg)
}

func accessDenied() *Error {
	return newError(http.StatusForbidden, CodeAccessDenied, MsgNotAuthorized)
}

// issuerMismatch reproduces how STS relays the SAML discovery service's
// refusal (dbeaver/cloudbeaver#3112): InvalidIdentityToken, 400, with the
// inner service's name, code and request ID inside the message.
func issuerMismatch(requestID string) *Error {
	return invalidIdentity("%s (Service: AWSOpenIdDiscoveryService; Status Code: 400; Error Code: AuthSamlInvalidSamlResponseException; Request ID: %s; Proxy: null)",
		MsgIssuerNotPresent, requestID)
}

// constraintViolations collects the model-level violations of a request and
// formats them as AWS's request validator does:
//
//	1 validation error detected: Value '100' at 'durationSeconds' failed to
//	satisfy constraint: Member must have value greater than or equal to 900
type constraintViolations []string

// add records a violation of member (named as AWS does: lower camel case of
// the parameter). value is quoted; sensitive members pass sensitive=true and
// have their value left out, as AWS does for SAMLAssertion.
func (v *constraintViolations) add(member, value string, sensitive bool, constraint string) {
	if sensitive {
		*v = append(*v, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint))
		return
	}
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

func (v constraintViolations) err() *Error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return validationError("1 validation error detected: %s", v[0])
	default:
		return validationError("%d validation errors detected: %s", len(v), strings.Join(v, "; "))
	}
}

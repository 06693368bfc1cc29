package saml

import "fmt"

// RejectCode classifies why a SAML message was refused. Codes are stable
// strings for the audit log and for tests; the exact circumstances are in
// RejectError.Reason.
type RejectCode string

// The rejection classes.
const (
	RejectMalformed     RejectCode = "malformed"      // not base64, not XML, not a SAML message of the expected kind
	RejectTooLarge      RejectCode = "too_large"      // over a size, depth, token or count limit
	RejectDoctype       RejectCode = "doctype"        // a DOCTYPE or other directive (XXE, entity expansion)
	RejectStructure     RejectCode = "structure"      // wrong shape: several assertions, misplaced signatures, duplicate IDs, missing elements
	RejectSignature     RejectCode = "signature"      // missing, invalid or untrusted signature, or one over the wrong element
	RejectAlgorithm     RejectCode = "algorithm"      // SHA-1, RSA1_5, 3DES, commented c14n or another refused algorithm
	RejectEncryption    RejectCode = "encryption"     // cannot decrypt, or CBC outside a signed Response
	RejectIssuer        RejectCode = "issuer"         // Issuer is not the IdP's entity ID
	RejectAudience      RejectCode = "audience"       // our entity ID is not among the audiences
	RejectDestination   RejectCode = "destination"    // Destination is not our endpoint
	RejectRecipient     RejectCode = "recipient"      // a SubjectConfirmationData Recipient is not our ACS
	RejectTime          RejectCode = "time"           // expired or not yet valid, beyond the clock skew
	RejectInResponseTo  RejectCode = "in_response_to" // InResponseTo names no request this browser started
	RejectUnsolicited   RejectCode = "unsolicited"    // no InResponseTo, and unsolicited responses are not allowed
	RejectReplay        RejectCode = "replay"         // the assertion or message ID was used before
	RejectStatus        RejectCode = "status"         // the IdP reported a status other than Success
	RejectSubject       RejectCode = "subject"        // NameID missing, empty, transient, encrypted or too long
	RejectCondition     RejectCode = "condition"      // a Condition we do not understand
	RejectLibrary       RejectCode = "library"        // crewjam/saml refused it for a reason our checks did not find first
	RejectDisagreement  RejectCode = "disagreement"   // crewjam/saml and our policy layer read different things
	RejectPanic         RejectCode = "panic"          // parsing panicked; recovered
	RejectInternal      RejectCode = "internal"       // our side failed (for example the replay cache); fail closed
	RejectConfiguration RejectCode = "configuration"  // the connection cannot accept this (for example no IdP SLO endpoint)
)

// RejectError is the only error that ParseResponse and the logout parsers
// return for a message they refuse. Code and Reason are precise and go to the
// audit log; they are never shown to the browser, which sees one fixed
// sentence for every rejection so that no class of failure can be told from
// another (no oracle).
type RejectError struct {
	Code   RejectCode
	Reason string
	// Err is the underlying error, when a library reported one.
	Err error
}

// Error returns the code and the reason, for logs.
func (e *RejectError) Error() string {
	return fmt.Sprintf("saml: rejected (%s): %s", e.Code, e.Reason)
}

// Unwrap returns the library error, if any.
func (e *RejectError) Unwrap() error { return e.Err }

// reject returns a *RejectError with a formatted reason.
func reject(code RejectCode, format string, args ...any) *RejectError {
	return &RejectError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// rejectErr returns a *RejectError that wraps err.
func rejectErr(code RejectCode, err error, format string, args ...any) *RejectError {
	return &RejectError{Code: code, Reason: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

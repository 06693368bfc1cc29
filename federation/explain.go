package federation

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"

	"github.com/glossa-dev/glossa"
)

// ExplainSTS turns an error of an STS call (AssumeRoleWithSAML or
// AssumeRole) into a *glossa.Error whose message says, in words an Owner
// can act on, what is wrong and where to fix it: the IdP application, the
// IAM SAML provider, the role's trust policy, the storage's settings, or
// the network. The message never carries STS's own text (which may name
// accounts, principals or policies); the original error is kept in Err for
// the logs. The codes: EFORBIDDEN for refusals, EINVALID for settings STS
// rejects, EUNAVAILABLE when STS did not answer or failed. A *glossa.Error
// in err's chain is returned unchanged, and nil gives nil.
//
// STS's codes and messages are those of the reference (§5, §6) as the
// SDK reports them: typed errors for the modeled codes
// (InvalidIdentityToken, ExpiredTokenException, IDPRejectedClaim,
// MalformedPolicyDocument, PackedPolicyTooLarge, RegionDisabledException),
// a generic API error for the rest (AccessDenied, ValidationError, ...).
func ExplainSTS(err error) *glossa.Error {
	if err == nil {
		return nil
	}
	var ge *glossa.Error
	if errors.As(err, &ge) {
		return ge
	}
	wrap := func(code, msg string) *glossa.Error { return glossa.Wrap(code, err, msg) }

	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return explainNetwork(err)
	}
	saml := operation(err) != "AssumeRole" // AssumeRoleWithSAML, or unknown
	msg := ae.ErrorMessage()
	switch code := ae.ErrorCode(); code {
	case "InvalidIdentityToken":
		switch {
		case strings.Contains(msg, "signature"):
			return wrap(glossa.EFORBIDDEN, "AWS could not verify your identity provider's signature on the sign-in response: "+
				"the IAM SAML provider's metadata is probably out of date (the IdP's signing certificate changed). "+
				"An administrator must update the provider's metadata in IAM (aws iam update-saml-provider), then sign in again.")
		case strings.Contains(msg, "provider doesn't exist"):
			return wrap(glossa.EFORBIDDEN, "The IAM SAML provider that this storage names (principal_arn) does not exist in that AWS account: "+
				"an Owner must correct principal_arn, or an administrator must create the provider in IAM.")
		case strings.Contains(msg, "Issuer not present"):
			return wrap(glossa.EFORBIDDEN, "The IAM SAML provider (principal_arn) belongs to another identity provider: its metadata names another issuer than the one you signed in with. "+
				"An administrator must give the provider this IdP's metadata, or an Owner must choose the right principal_arn.")
		case strings.Contains(msg, "RoleSessionName is required"):
			return wrap(glossa.EFORBIDDEN, "Your identity provider did not send the RoleSessionName attribute (https://aws.amazon.com/SAML/Attributes/RoleSessionName) that AWS requires: "+
				"an administrator must add it to the IdP application, usually set to the email.")
		case strings.Contains(msg, "RoleSessionName"):
			return wrap(glossa.EFORBIDDEN, "The RoleSessionName attribute your identity provider sent is not a valid AWS session name (2 to 64 letters, digits and +=,.@-): "+
				"an administrator must change what the IdP application sends.")
		case strings.Contains(msg, "Source Identity") || strings.Contains(msg, "SourceIdentity"):
			return wrap(glossa.EFORBIDDEN, "The SourceIdentity attribute your identity provider sent is not valid for AWS (2 to 64 letters, digits and +=,.@-, not starting with aws:): "+
				"an administrator must change what the IdP application sends.")
		case strings.Contains(msg, "audience"):
			return wrap(glossa.EFORBIDDEN, "The sign-in response is not addressed to AWS: the IdP application must list urn:amazon:webservices as an audience, besides Glossa's entity ID.")
		}
		return wrap(glossa.EFORBIDDEN, "AWS refused the sign-in response of your identity provider as invalid: "+
			"an administrator should check that the IdP application signs it (RSA-SHA256), does not encrypt it, and sends the AWS Role and RoleSessionName attributes.")
	case "ExpiredTokenException", "ExpiredToken":
		if saml {
			return wrap(glossa.EFORBIDDEN, "AWS found the sign-in response expired or not yet valid (it accepts one for 5 minutes after it is issued): "+
				"sign in again; if it keeps happening, an administrator should check the identity provider's clock.")
		}
		return wrap(glossa.EFORBIDDEN, "Glossa's own AWS credentials have expired: an administrator must renew the server's AWS identity.")
	case "AccessDenied":
		if saml {
			return wrap(glossa.EFORBIDDEN, "AWS refused to let you assume the role: the role's trust policy does not allow this SAML provider "+
				"to assume it for you (sts:AssumeRoleWithSAML), or one of its conditions is not met — SAML:aud must be Glossa's ACS URL, the Recipient of the response — "+
				"or the role does not exist. An administrator must fix the role's trust policy in IAM.")
		}
		return wrap(glossa.EFORBIDDEN, "AWS refused to let Glossa assume the role: the role's trust policy must allow Glossa's AWS principal "+
			"to call sts:AssumeRole (and sts:TagSession and sts:SetSourceIdentity in broker mode, and its sts:ExternalId condition must match the storage's external_id), "+
			"or the role does not exist. An administrator must fix the role's trust policy in IAM.")
	case "IDPRejectedClaim":
		return wrap(glossa.EFORBIDDEN, "AWS rejected a claim of your identity provider's sign-in response (or the IdP reported that the sign-in failed): "+
			"an administrator should check the AWS attributes the IdP application sends, then sign in again.")
	case "MalformedPolicyDocument":
		return wrap(glossa.EINVALID, "AWS refused the session policy for this storage as malformed: check the storage's bucket and prefix.")
	case "PackedPolicyTooLarge":
		return wrap(glossa.EINVALID, "The session policy and session tags for this storage are too large for AWS: shorten the prefix, or send fewer IdP groups.")
	case "RegionDisabledException":
		return wrap(glossa.EFORBIDDEN, "AWS STS is not activated in the storage's region for that account: an administrator can activate the region in IAM's account settings, "+
			"or an Owner can set the storage's sts_endpoint to another region's STS.")
	case "ValidationError", "InvalidParameterValue", "MissingParameter":
		switch {
		case strings.Contains(msg, "MaxSessionDuration"):
			return wrap(glossa.EINVALID, "The storage asks for longer sessions than the role allows: lower session_duration, or raise the role's maximum session duration in IAM.")
		case strings.Contains(strings.ToLower(msg), "durationseconds"):
			return wrap(glossa.EINVALID, "The storage's session_duration must be between 900 and 43200 seconds.")
		case strings.Contains(msg, "ARN is invalid") || strings.Contains(msg, "roleArn") || strings.Contains(msg, "principalArn"):
			return wrap(glossa.EINVALID, "AWS refused the storage's role or SAML provider ARN: role_arn must be arn:aws:iam::ACCOUNT:role/NAME and principal_arn arn:aws:iam::ACCOUNT:saml-provider/NAME.")
		case strings.Contains(strings.ToLower(msg), "policy"):
			return wrap(glossa.EINVALID, "AWS refused the session policy for this storage: check the storage's bucket and prefix.")
		}
		return wrap(glossa.EINVALID, "AWS refused the request as invalid: check the storage's role_arn, principal_arn and session_duration.")
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidAccessKeyId", "IncompleteSignature", "MissingAuthenticationToken":
		return wrap(glossa.EFORBIDDEN, "AWS STS does not accept Glossa's own AWS credentials: an administrator must check the server's AWS identity.")
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException":
		return wrap(glossa.EUNAVAILABLE, "AWS STS is throttling requests; try again in a minute.")
	case "IDPCommunicationError":
		return wrap(glossa.EUNAVAILABLE, "AWS STS could not reach the identity provider; try again later.")
	case "InvalidAction":
		return wrap(glossa.EINVALID, "The STS endpoint does not offer this action: check the storage's sts_endpoint (S3-compatible stores rarely offer AssumeRoleWithSAML; use broker mode).")
	}
	if status := httpStatus(err); status >= 500 || ae.ErrorFault() == smithy.FaultServer {
		return wrap(glossa.EUNAVAILABLE, "AWS STS failed to answer; try again later.")
	}
	return wrap(glossa.EFORBIDDEN, "AWS STS refused to issue credentials for this storage: an administrator should check the role, its trust policy and the SAML provider.")
}

// explainNetwork explains an error that is not an STS answer.
func explainNetwork(err error) *glossa.Error {
	host := ""
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
	}
	where := "AWS STS"
	if host != "" {
		where = "the STS endpoint " + host
	}
	if timedOut(err) {
		return glossa.Wrap(glossa.EUNAVAILABLE, err, "Glossa timed out waiting for "+where+": check the storage's sts_endpoint and the server's network, then sign in again.")
	}
	if errors.Is(err, context.Canceled) {
		return glossa.Wrap(glossa.EUNAVAILABLE, err, "The request to "+where+" was cancelled; try again.")
	}
	return glossa.Wrap(glossa.EUNAVAILABLE, err, "Glossa could not reach "+where+": check the storage's sts_endpoint and the server's network, then sign in again.")
}

func timedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// operation names the STS operation of an SDK error ("AssumeRole"), or "".
func operation(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return oe.Operation()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// stsCode is the code a failed exchange is recorded with: STS's error
// code, or Timeout or Unreachable when STS did not answer.
func stsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if timedOut(err) {
		return CodeTimeout
	}
	return CodeUnreachable
}

// transient reports whether an STS failure says nothing about the person's
// right to the role: no answer, throttling, a server error.
func transient(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return true
	}
	switch ae.ErrorCode() {
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "IDPCommunicationError", "InternalFailure", "ServiceUnavailable":
		return true
	}
	return httpStatus(err) >= 500
}

// exceedsMaxSession reports STS's refusal of a DurationSeconds above the
// role's MaxSessionDuration ("The requested DurationSeconds exceeds the
// MaxSessionDuration set for this role.", §6).
func exceedsMaxSession(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "MaxSessionDuration")
}

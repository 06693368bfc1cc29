// Package stsemu emulates AWS STS AssumeRoleWithSAML for tests, since AWS
// cannot be reached from them. It is a second, independent implementation of
// what AWS checks (it does not use Glossa's saml package): Glossa's federated
// storage hands it the SAML response its ACS received, exactly as it would
// hand it to AWS, and gets AWS's answer — credentials or AWS's error.
//
// References below are to shared/reference/aws-saml-federation.md.
//
// # Protocol
//
// An Emulator is an http.Handler speaking the STS Query protocol: a form
// POST to "/" with Action=AssumeRoleWithSAML and Version=2011-06-15,
// unsigned (§1). It answers with an AssumeRoleWithSAMLResponse in the
// namespace https://sts.amazonaws.com/doc/2011-06-15/ (Credentials,
// AssumedRoleUser, Subject, SubjectType, Issuer, Audience, NameQualifier,
// SourceIdentity, PackedPolicySize, ResponseMetadata/RequestId; §2), or with
// an ErrorResponse (Error/Type, Code, Message; RequestId) and the HTTP status
// of §6. The real aws-sdk-go-v2 STS client, with BaseEndpoint set to the
// emulator and aws.AnonymousCredentials{}, parses both, including its typed
// errors (*types.ExpiredTokenException, *types.InvalidIdentityTokenException,
// ...). Other actions get InvalidAction.
//
// The credentials themselves come from an Issuer; SeaweedIssuer obtains them
// from SeaweedFS's AssumeRole as a broker identity (§14), so that they work
// against a real S3 store scoped to the role's policies ∩ the session policy.
//
// # Checks, in AWS's order (§15 items 1–12)
//
// Code, HTTP status, message. Messages in quotes are AWS's own words as
// published (troubleshoot_saml.md, STS API reference, quoted errors); those
// marked (emulator) are the emulator's, where no source shows AWS's.
//
//  1. Request: RoleArn, PrincipalArn 20–2048 characters, SAMLAssertion
//     4–100,000, DurationSeconds 900–43200, Policy 1–2048 characters of
//     [\u0009\u000A\u000D\u0020-\u00FF], at most 10 PolicyArns →
//     ValidationError 400 "N validation error(s) detected: Value '…' at
//     'durationSeconds' failed to satisfy constraint: Member must …"; Policy
//     not JSON → MalformedPolicyDocument 400 "The policy is not in the valid
//     JSON format."; RoleArn not a role ARN or PrincipalArn not a SAML
//     provider ARN (e.g. swapped) → ValidationError 400 "Request ARN is
//     invalid".
//  2. Provider: PrincipalArn not registered → InvalidIdentityToken 400
//     "Specified provider doesn't exist" (checked before the assertion is
//     decoded, as AWS does). SAMLAssertion not base64 → ValidationError 400
//     (emulator). Response or assertion Issuer ≠ the metadata's entityID →
//     InvalidIdentityToken 400 "Issuer not present in specified provider
//     (Service: AWSOpenIdDiscoveryService; Status Code: 400; Error Code:
//     AuthSamlInvalidSamlResponseException; Request ID: …; Proxy: null)".
//  3. XML and signature: not XML, a DTD/entity, duplicate attributes, XML
//     that does not round-trip, not a samlp:Response → InvalidIdentityToken
//     400 "Invalid SAML response: …" (emulator); Status not Success →
//     IDPRejectedClaim 403 (emulator message); an EncryptedAssertion, or not
//     exactly one Assertion in the whole document (it must be a child of the
//     Response) → InvalidIdentityToken 400 "Invalid SAML response: …"
//     (emulator). Then XML-DSig: the Assertion and/or the Response signed,
//     each signature a child of its element, one Reference to that element's
//     ID (unique in the document), enveloped + exclusive c14n transforms,
//     exclusive c14n SignedInfo, RSA/ECDSA with SHA-256/384/512 (SHA-1
//     refused), verified with the provider metadata's certificates only
//     (KeyInfo removed, never trusted; any of up to 10 certificates, for key
//     rollover), and every claim read from the element as the signature
//     covers it (no signature wrapping) → else InvalidIdentityToken 400
//     "Response signature invalid".
//  4. Time (Emulator.Now): SubjectConfirmationData or Conditions
//     NotOnOrAfter ≤ now → ExpiredTokenException 400 "Response has expired";
//     Conditions NotBefore or IssueInstant in the future → ExpiredTokenException
//     400 "Response is not yet valid" (emulator; IssueInstant may lead by up
//     to 5 minutes); Assertion or Response IssueInstant more than 5 minutes
//     ago → ExpiredTokenException 400 "Token must be redeemed within 5
//     minutes of issuance".
//  5. Subject: no NameID, or not exactly one SubjectConfirmation of the
//     bearer method with Recipient and NotOnOrAfter → AccessDenied 403 "Not
//     authorized to perform sts:AssumeRoleWithSAML".
//  6. Audience: no AudienceRestriction names an accepted audience
//     (Emulator.Audiences, default urn:amazon:webservices and
//     https://signin.aws.amazon.com/saml) → InvalidIdentityToken 400
//     "Response does not contain the required audience" (AWS's text, code
//     chosen by the emulator).
//  7. Role pair: no value of the attribute
//     https://aws.amazon.com/SAML/Attributes/Role (exact, case-sensitive
//     Name) is the pair {RoleArn, PrincipalArn} — in either order,
//     whitespace around the comma tolerated, partitions aws, aws-us-gov,
//     aws-cn — or the role does not exist → AccessDenied 403 "Not authorized
//     to perform sts:AssumeRoleWithSAML".
//  8. RoleSessionName attribute missing → InvalidIdentityToken 400
//     "RoleSessionName is required in AuthnResponse"; not [\w+=,.@-]{2,64} →
//     InvalidIdentityToken 400 "RoleSessionName in AuthnResponse must match
//     [a-zA-Z_0-9+=,.@-]{2,64}"; SourceIdentity attribute not that syntax or
//     starting with "aws:" → InvalidIdentityToken 400 "Source Identity must
//     match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:""; a
//     SessionDuration attribute outside 900–43200 → InvalidIdentityToken 400
//     (emulator).
//  9. Session tags (PrincipalTag:KEY attributes): more than 50, a key not
//     1–128 characters of the tag-key set, not exactly one value of at most
//     256 characters, keys equal but for case, TransitiveTagKeys naming no
//     tag → InvalidIdentityToken 400 (emulator messages).
//  10. Trust policy: sts:AssumeRoleWithSAML, plus sts:TagSession when the
//     assertion carries tags and sts:SetSourceIdentity when it carries a
//     source identity, must each be allowed for Principal.Federated =
//     PrincipalArn — some Allow statement matching and no Deny statement
//     (explicit Deny wins). Conditions are evaluated over saml:aud (the
//     Recipient, not the Audience), saml:iss, saml:sub, saml:sub_type,
//     saml:namequalifier, saml:doc, the attribute keys of the IAM User
//     Guide's mapping table (saml:edupersonaffiliation, saml:cn, saml:mail,
//     …), aws:RequestTag/KEY, aws:TagKeys, sts:TransitiveTagKeys and
//     sts:SourceIdentity; key names are case-insensitive; operators
//     StringEquals, StringNotEquals, StringEqualsIgnoreCase,
//     StringNotEqualsIgnoreCase, StringLike, StringNotLike, the Arn
//     operators, Bool, Null, with IfExists and ForAllValues:/ForAnyValue:
//     → else AccessDenied 403 "Not authorized to perform
//     sts:AssumeRoleWithSAML".
//  11. Duration: DurationSeconds (default 3600) above the role's
//     MaxSessionDuration → ValidationError 400 "The requested DurationSeconds
//     exceeds the MaxSessionDuration set for this role." (an error, never a
//     clamp). Expiration = min(now + DurationSeconds, the AuthnStatement's
//     SessionNotOnOrAfter, now + SessionDuration attribute); already passed →
//     ExpiredTokenException 400 "Response has expired" (emulator's choice).
//  12. Issue: Issuer.Issue(IssueRequest{RoleARN, SessionName,
//     SourceIdentity, Policy, PolicyARNs, Duration = Expiration − now, Tags,
//     TransitiveTags}); the answer carries the issuer's keys and token with
//     that Expiration (or the issuer's own, if sooner), AssumedRoleUser
//     {AROA…:SESSION, arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION},
//     Subject = NameID, SubjectType = its Format with
//     urn:oasis:names:tc:SAML:2.0:nameid-format: stripped, Issuer, Audience =
//     Recipient, NameQualifier = base64(sha1(issuer + account + "/" +
//     providerName)), SourceIdentity, and PackedPolicySize when a session
//     policy or tags were given. An Issuer's *Error is answered as is; any
//     other issuer error is InternalFailure 500.
//
// Registration (Emulator.Check, also run on every request) refuses what IAM
// refuses: metadata with a BOM, a DTD, no entityID, no or more than 10
// signing certificates, an RSA key under 1024 bits ("Could not parse
// metadata"); trust policies the emulator cannot parse or evaluate
// (MalformedPolicyDocument, NotPrincipal, numeric and date operators);
// MaxSessionDuration outside 1–12 h; ARNs outside Emulator.Account. A request
// to a misconfigured Emulator gets InternalFailure 500.
//
// # Not emulated
//
//   - Encrypted assertions (IAM providers with a private key): refused, since
//     a response shared between Glossa and STS must be unencrypted (§4).
//   - Whether AWS checks the AudienceRestriction on the API path at all, and
//     with which code, is not established (§9): the emulator does, configurably.
//   - Certificate validity dates are not enforced; SHA-1 signatures are
//     refused — neither is documented by AWS either way.
//   - Clock skew allowances beyond the 5-minute IssueInstant lead.
//   - Managed session policies (PolicyArns) are validated and passed to the
//     Issuer but not resolved; SeaweedIssuer refuses them.
//   - PackedPolicySize is an approximation (AWS's packing is not public), and
//     PackedPolicyTooLarge is never returned.
//   - Policy variables (${saml:sub}) in trust-policy conditions, NotPrincipal,
//     numeric/date/IP operators, role tags, permission boundaries, SCPs.
//   - RegionDisabledException, throttling, role chaining, the 1-hour limit of
//     chained sessions, IAM Identity Center (AWSReservedSSO_) roles.
//   - The exact wording of messages marked (emulator) above, and the code of
//     "Specified provider doesn't exist" and the audience refusal (AWS's
//     troubleshooting page gives only the text).
//   - With SeaweedIssuer: session tags and the source identity are not
//     forwarded to SeaweedFS, and sessions shorter than 900 s (a near
//     SessionNotOnOrAfter) are issued for 900 s, so the credentials may
//     outlive the reported Expiration.
package stsemu

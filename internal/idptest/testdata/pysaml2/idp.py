"""A SAML 2.0 identity provider for Glossa's tests, built on pysaml2.

Started by Glossa's internal/idptest package (StartPySAML2) as

    /usr/bin/python3 idp.py CONFIG.json

with its listening socket already bound to a loopback port and handed over
as file descriptor 3 (so no other process can take the port in between).
Use Debian's /usr/bin/python3: the python3 first on PATH may be another
build without Debian's python3-pysaml2. pysaml2 signs and encrypts by
running xmlsec1 (Debian package xmlsec1).

CONFIG.json (written by the Go code) names the entity ID and base URL, the
IdP's key pair, the SP's metadata file, the users and the response options.

Endpoints (all on the base URL):

  GET  /metadata            the IdP's metadata (unsigned)
  GET  /sso/redirect        SingleSignOnService, HTTP-Redirect binding
  GET  /sso/unsolicited     IdP-initiated sign-in: ?sp=ENTITYID[&RelayState=]
  POST /login               the login form's target
  GET  /slo/redirect        SingleLogoutService, HTTP-Redirect binding: a
                            LogoutRequest ends the IdP session and is
                            answered with a signed LogoutResponse; a
                            LogoutResponse (to /slo/unsolicited) goes on to
                            its ReturnTo
  GET  /slo/unsolicited     IdP-initiated logout: ?ReturnTo=URL; sends the
                            signed LogoutRequest to the SP the session signed
                            in to last

A sign-in answers with the HTML auto-submit form of the HTTP-POST binding
(SAMLResponse and RelayState posted to the SP's ACS). The IdP keeps a
session cookie, so a second sign-in from the same browser skips the form
unless the request says ForceAuthn; IsPassive without a session gets a
NoPassive status.

What pysaml2 does on its own and this script only configures: parsing the
AuthnRequest (including its Destination check against our SSO URL), picking
the ACS (only one registered in the SP's metadata; an unregistered
AssertionConsumerServiceURL in the request is an error, unlike
SimpleSAMLphp), verifying HTTP-Redirect request signatures against the SP's
signing certificates, the attribute release policy (if the SP's metadata
lists RequestedAttributes, only those are released), building, signing
(RSA-SHA256, SHA-256 digests) and encrypting the response.

What this script changes: pysaml2 7.0 hard-codes 3DES (tripledes-cbc with a
des-192 session key) for assertion encryption; TestServer._encrypt_assertion
is pysaml2's own method with the data-encryption algorithm and session key
size replaced by the configured AES-GCM or AES-CBC, still wrapped with
RSA-OAEP (rsa-oaep-mgf1p) by xmlsec1.
"""

import html
import http.cookies
import json
import logging
import secrets
import socket
import socketserver
import sys
import threading
import traceback
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NameID
from saml2.server import Server
from saml2.sigver import (
    RSA_OAEP_MGF1P,
    get_pem_wrapped_unwrapped,
    make_temp,
    pre_encryption_part,
    verify_redirect_signature,
)

log = logging.getLogger("idptest")

NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_FORMATS = [NAMEID_PERSISTENT, NAMEID_EMAIL, NAMEID_UNSPECIFIED, NAMEID_TRANSIENT]

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
AC_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"

# Data-encryption algorithm URI and the xmlsec1 --session-key it needs.
ENCRYPTION = {
    "aes128-cbc": ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
}

ATTRIBUTES = ["uid", "email", "givenName", "sn", "groups"]


class TestServer(Server):
    """pysaml2's IdP server with a choosable assertion encryption algorithm."""

    msg_enc = None
    session_key = None

    def _encrypt_assertion(self, encrypt_cert, sp_entity_id, response, node_xpath=None):
        # pysaml2 7.0.1 saml2.entity.Entity._encrypt_assertion, with
        # pre_encryption_part's msg_enc (default TRIPLE_DES_CBC) and
        # encrypt_assertion's key_type (default des-192) set.
        certs = []
        if encrypt_cert:
            certs.append(encrypt_cert)
        elif sp_entity_id is not None:
            certs = self.metadata.certs(sp_entity_id, "any", "encryption")
        exception = None
        for cert in certs:
            wrapped, unwrapped = get_pem_wrapped_unwrapped(cert)
            try:
                tmp = make_temp(wrapped.encode("ascii"), decode=False,
                                delete_tmpfiles=self.config.delete_tmpfiles)
                return self.sec.encrypt_assertion(
                    response,
                    tmp.name,
                    pre_encryption_part(msg_enc=self.msg_enc, key_enc=RSA_OAEP_MGF1P,
                                        encrypt_cert=unwrapped),
                    key_type=self.session_key,
                    node_xpath=node_xpath,
                )
            except Exception as ex:  # try the next certificate, like pysaml2
                exception = ex
        if exception:
            raise exception
        return response


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.base = cfg["baseURL"]
        self.cookie = cfg["cookieName"]
        self.users = {u["username"]: u for u in cfg["users"]}
        self.lock = threading.Lock()
        self.pending = {}   # form key -> pending sign-in
        self.sessions = {}  # session cookie -> {"user": username, "sp": entity ID, "nameID": NameID}
        self.logouts = {}   # LogoutRequest ID -> ReturnTo

        conf = {
            "entityid": cfg["entityID"],
            "description": "Glossa idptest pysaml2 IdP",
            "service": {
                "idp": {
                    "name": "Glossa idptest pysaml2 IdP",
                    "endpoints": {
                        "single_sign_on_service": [
                            (self.base + "/sso/redirect", BINDING_HTTP_REDIRECT),
                        ],
                        "single_logout_service": [
                            (self.base + "/slo/redirect", BINDING_HTTP_REDIRECT),
                        ],
                    },
                    "name_id_format": NAMEID_FORMATS,
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_BASIC,
                        },
                    },
                    # Redirect-binding signatures are checked below with
                    # pysaml2's verify_redirect_signature; this flag would
                    # demand an enveloped signature, which that binding
                    # never carries.
                    "want_authn_requests_signed": False,
                },
            },
            "key_file": cfg["keyFile"],
            "cert_file": cfg["certFile"],
            "metadata": {"local": [cfg["spMetadataFile"]]},
            "xmlsec_binary": cfg["xmlsec1"],
            "signing_algorithm": RSA_SHA256,
            "digest_algorithm": SHA256,
            "accepted_time_diff": 180,
            "delete_tmpfiles": True,
        }
        config = IdPConfig()
        config.load(conf)
        # Attribute names go out as they are (uid, email, givenName, sn,
        # groups, NameFormat basic), not renamed by pysaml2's bundled maps
        # (which would turn givenName into urn:mace:dir:attribute-def:givenName).
        conv = AttributeConverter()
        same = {a: a for a in ATTRIBUTES}
        conv.from_dict({"identifier": NAME_FORMAT_BASIC, "fro": same, "to": same})
        config.attribute_converters = [conv]
        self.config = config
        self.idp = TestServer(config=config)
        enc = cfg.get("encrypt") or ""
        if enc:
            self.idp.msg_enc, self.idp.session_key = ENCRYPTION[enc]
        md = create_metadata_string(None, config=config, sign=False)
        self.metadata = md.decode("utf-8") if isinstance(md, bytes) else md

    # --- WSGI -------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if path == "/metadata" and method == "GET":
                return self.reply(start_response, "200 OK", self.metadata,
                                  "application/samlmetadata+xml")
            if path == "/sso/redirect" and method == "GET":
                return self.sso_redirect(environ, start_response, query)
            if path == "/sso/unsolicited" and method == "GET":
                return self.sso_unsolicited(environ, start_response, query)
            if path == "/login" and method == "POST":
                return self.login(environ, start_response)
            if path == "/slo/redirect" and method == "GET":
                return self.slo(environ, start_response, query)
            if path == "/slo/unsolicited" and method == "GET":
                return self.slo_unsolicited(environ, start_response, query)
            return self.reply(start_response, "404 Not Found", "not found\n", "text/plain")
        except Exception as ex:
            log.error("%s %s: %s", method, path, traceback.format_exc())
            return self.reply(start_response, "400 Bad Request",
                              "idptest pysaml2 IdP error: %s: %s\n" % (type(ex).__name__, ex),
                              "text/plain")

    def reply(self, start_response, status, body, ctype="text/html; charset=utf-8", headers=()):
        data = body.encode("utf-8")
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                ("Cache-Control", "no-store")] + list(headers))
        return [data]

    def session(self, environ):
        """The session cookie's token and session, or (None, None)."""
        jar = http.cookies.SimpleCookie(environ.get("HTTP_COOKIE", ""))
        morsel = jar.get(self.cookie)
        if morsel is None:
            return None, None
        with self.lock:
            sess = self.sessions.get(morsel.value)
        return (morsel.value, sess) if sess is not None else (None, None)

    def end_session(self, token):
        with self.lock:
            self.sessions.pop(token, None)
        return ("Set-Cookie", "%s=; Path=/; Max-Age=0" % self.cookie)

    # --- sign-in ----------------------------------------------------------

    def sso_redirect(self, environ, start_response, query):
        if "SAMLRequest" not in query:
            raise ValueError("no SAMLRequest")
        with self.lock:
            req = self.idp.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        msg = req.message
        sp = msg.issuer.text.strip()
        if self.cfg.get("requireSignedRequests"):
            self.check_redirect_signature(sp, query)
        with self.lock:
            args = self.idp.response_args(msg, [BINDING_HTTP_POST])
        fmt = None
        if msg.name_id_policy is not None and msg.name_id_policy.format:
            fmt = msg.name_id_policy.format
        pending = {
            "sp": sp,
            "acs": args["destination"],
            "inResponseTo": msg.id,
            "relayState": query.get("RelayState", ""),
            "nameIDFormat": fmt,
        }
        log.info("AuthnRequest %s from %s, answering at %s", msg.id, sp, pending["acs"])
        token, sess = self.session(environ)
        if sess is not None and not msg.force_authn:
            return self.respond(start_response, pending, token)
        if msg.is_passive:
            return self.respond(start_response, pending, None,
                                status=("urn:oasis:names:tc:SAML:2.0:status:NoPassive", "no session"))
        return self.login_form(start_response, pending, "")

    def sso_unsolicited(self, environ, start_response, query):
        sp = query.get("sp", "")
        with self.lock:
            _, acs = self.idp.pick_binding("assertion_consumer_service", [BINDING_HTTP_POST],
                                           "spsso", entity_id=sp)
        pending = {
            "sp": sp,
            "acs": acs,
            "inResponseTo": None,
            "relayState": query.get("RelayState", ""),
            "nameIDFormat": None,
        }
        token, sess = self.session(environ)
        if sess is not None:
            return self.respond(start_response, pending, token)
        return self.login_form(start_response, pending, "")

    def check_redirect_signature(self, sp, query):
        if "Signature" not in query or "SigAlg" not in query:
            raise ValueError("request is not signed, and this IdP requires signed requests")
        msg = {k: query[k] for k in ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")
               if k in query}
        certs = self.idp.metadata.certs(sp, "spsso", "signing")
        for cert in certs:
            if isinstance(cert, tuple):
                cert = cert[1]
            if verify_redirect_signature(msg, self.idp.sec.sec_backend, cert):
                log.info("redirect signature verified (%s)", query["SigAlg"])
                return
        raise ValueError("signature does not verify with any of the SP's signing certificates")

    def login_form(self, start_response, pending, message):
        key = secrets.token_urlsafe(16)
        with self.lock:
            self.pending[key] = pending
        body = """<!DOCTYPE html>
<html><head><title>Sign in: pysaml2 IdP</title></head>
<body>
<h1>Sign in</h1>
<p class="error">%s</p>
<form method="post" action="%s/login">
<label>Username <input type="text" name="username" autofocus></label>
<label>Password <input type="password" name="password"></label>
<input type="hidden" name="key" value="%s">
<button type="submit">Sign in</button>
</form>
</body></html>
""" % (html.escape(message), html.escape(self.base), html.escape(key))
        return self.reply(start_response, "200 OK", body)

    def login(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode("utf-8")).items()}
        with self.lock:
            pending = self.pending.pop(form.get("key", ""), None)
        if pending is None:
            return self.reply(start_response, "400 Bad Request", "unknown or used sign-in\n", "text/plain")
        user = self.users.get(form.get("username", ""))
        if user is None or not secrets.compare_digest(user["password"], form.get("password", "")):
            log.info("wrong username or password for %r", form.get("username", ""))
            return self.login_form(start_response, pending, "Wrong username or password.")
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[token] = {"user": user["username"]}
        cookie = "%s=%s; Path=/; HttpOnly; SameSite=Lax" % (self.cookie, token)
        return self.respond(start_response, pending, token, headers=[("Set-Cookie", cookie)])

    def respond(self, start_response, pending, token, status=None, headers=()):
        """Answers the pending sign-in for the session token, or with an error
        status (a (second-level status code, message) pair) if token is None."""
        sp = pending["sp"]
        kwargs = {}
        username = None
        if token is not None:
            with self.lock:
                sess = self.sessions[token]
            username = sess["user"]
            user = self.users[username]
            identity = {"uid": [user["username"]]}
            if user["email"]:
                identity["email"] = [user["email"]]
            if user["firstName"]:
                identity["givenName"] = [user["firstName"]]
            if user["lastName"]:
                identity["sn"] = [user["lastName"]]
            if user["groups"]:
                identity["groups"] = list(user["groups"])
            kwargs["name_id"] = self.name_id(pending, user)
            with self.lock:
                sess["sp"], sess["nameID"] = sp, kwargs["name_id"]
            kwargs["authn"] = {"class_ref": AC_PASSWORD, "authn_auth": self.cfg["entityID"]}
        else:
            identity = {}
        with self.lock:
            if status is not None:
                resp = self.idp.create_error_response(
                    pending["inResponseTo"], pending["acs"], status,
                    sign=self.cfg.get("signResponse", False),
                    sign_alg=RSA_SHA256, digest_alg=SHA256)
            else:
                enc = bool(self.cfg.get("encrypt"))
                resp = self.idp.create_authn_response(
                    identity,
                    pending["inResponseTo"],
                    pending["acs"],
                    sp,
                    sign_response=self.cfg.get("signResponse", False),
                    sign_assertion=self.cfg.get("signAssertion", False),
                    encrypt_assertion=enc,
                    encrypted_advice_attributes=False,
                    sign_alg=RSA_SHA256,
                    digest_alg=SHA256,
                    **kwargs)
            http_args = self.idp.apply_binding(BINDING_HTTP_POST, str(resp), pending["acs"],
                                               pending["relayState"], response=True)
        log.info("Response for %s (%s) posted to %s", sp, username, pending["acs"])
        body = http_args["data"]
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        return self.reply(start_response, "200 OK", body, headers=headers)

    def name_id(self, pending, user):
        fmt = pending["nameIDFormat"]
        if fmt not in NAMEID_FORMATS:
            fmt = None
        if fmt is None:
            for sp in self.idp.metadata[pending["sp"]]["spsso_descriptor"]:
                for f in sp.get("name_id_format", []):
                    if f["text"].strip() in NAMEID_FORMATS:
                        fmt = f["text"].strip()
                        break
                if fmt:
                    break
        if fmt is None:
            fmt = self.cfg["nameIDFormat"]
        if fmt == NAMEID_EMAIL:
            value = user["email"]
        elif fmt == NAMEID_TRANSIENT:
            value = "_" + secrets.token_hex(16)
        else:
            value = user["username"]
        return NameID(format=fmt, text=value, sp_name_qualifier=pending["sp"],
                      name_qualifier=self.cfg["entityID"])

    # --- logout -----------------------------------------------------------

    def redirect(self, start_response, http_args, headers=()):
        location = dict(http_args["headers"])["Location"]
        start_response("302 Found", [("Location", location), ("Content-Length", "0"),
                                     ("Cache-Control", "no-store")] + list(headers))
        return [b""]

    def slo(self, environ, start_response, query):
        token, sess = self.session(environ)
        if "SAMLRequest" in query:
            # SP-initiated: answer the LogoutRequest at the SP's
            # SingleLogoutService, signed in the query.
            with self.lock:
                req = self.idp.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
            msg = req.message
            sp = msg.issuer.text.strip()
            if self.cfg.get("requireSignedRequests"):
                self.check_redirect_signature(sp, query)
            log.info("LogoutRequest %s from %s for %s", msg.id, sp, msg.name_id.text if msg.name_id else None)
            with self.lock:
                resp = self.idp.create_logout_response(msg, [BINDING_HTTP_REDIRECT], sign=False)
                _, destination = self.idp.pick_binding("single_logout_service", [BINDING_HTTP_REDIRECT],
                                                       "spsso", entity_id=sp)
                http_args = self.idp.apply_binding(BINDING_HTTP_REDIRECT, str(resp), destination,
                                                   query.get("RelayState", ""), response=True,
                                                   sign=True, sigalg=RSA_SHA256)
            return self.redirect(start_response, http_args, [self.end_session(token)])
        if "SAMLResponse" in query:
            # The SP's answer to /slo/unsolicited.
            with self.lock:
                resp = self.idp.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
                return_to = self.logouts.pop(resp.response.in_response_to, "")
            log.info("LogoutResponse to %s: %s", resp.response.in_response_to,
                     resp.response.status.status_code.value)
            headers = [self.end_session(token)]
            if return_to:
                start_response("302 Found", [("Location", return_to), ("Content-Length", "0")] + headers)
                return [b""]
            return self.reply(start_response, "200 OK", "<p>Signed out.</p>\n", headers=headers)
        return self.reply(start_response, "200 OK", "<p>Signed out.</p>\n", headers=[self.end_session(token)])

    def slo_unsolicited(self, environ, start_response, query):
        token, sess = self.session(environ)
        if sess is None or "nameID" not in sess:
            return self.reply(start_response, "200 OK", "<p>Not signed in to any service.</p>\n")
        sp = sess["sp"]
        with self.lock:
            _, destination = self.idp.pick_binding("single_logout_service", [BINDING_HTTP_REDIRECT],
                                                   "spsso", entity_id=sp)
            req_id, req = self.idp.create_logout_request(destination, sp, name_id=sess["nameID"], sign=False)
            self.logouts[req_id] = query.get("ReturnTo", "")
            http_args = self.idp.apply_binding(BINDING_HTTP_REDIRECT, str(req), destination, "",
                                               response=False, sign=True, sigalg=RSA_SHA256)
        log.info("LogoutRequest %s to %s", req_id, sp)
        return self.redirect(start_response, http_args)


class Handler(WSGIRequestHandler):
    def address_string(self):
        return self.client_address[0]  # no reverse DNS

    def log_message(self, format, *args):
        log.info("%s %s", self.address_string(), format % args)


class FDServer(socketserver.ThreadingMixIn, WSGIServer):
    """A WSGI server on the listening socket inherited as file descriptor 3."""

    daemon_threads = True

    def server_bind(self):
        self.socket.close()
        self.socket = socket.socket(fileno=3)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()

    def server_activate(self):
        pass  # the Go side already listens


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cfg = json.load(f)
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if cfg.get("debug") else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = App(cfg)
    server = FDServer(("127.0.0.1", 0), Handler)
    server.set_app(app)
    log.info("pysaml2 IdP %s serving on %s", cfg["entityID"], cfg["baseURL"])
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()

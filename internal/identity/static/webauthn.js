// anzen: security keys and passkeys (WebAuthn) for sign-in and settings.
//
// Every form marked data-webauthn="register" or "login" is a widget:
//   data-begin   URL that answers the options ({"publicKey": ...}) for
//                navigator.credentials.create (register) or get (login)
//   data-finish  URL that takes {"credential": ..., "name": ...}
//   data-codes   id of the panel that shows recovery codes once
//   data-msg-*   texts to show (failed, cancelled, unsupported, security,
//                duplicate), rendered by the server in the person's language
// Inside: an input [data-webauthn-name] (register only), an element
// [data-webauthn-error] for errors, and a submit button.
// A finish answers {"redirect": URL, "recovery_codes": [...]}; the codes,
// when present, replace the page until the person goes on.
// Errors from the server are problem+json; their detail is shown as it is.
// This file holds no text of its own.
(function () {
  "use strict";

  function toBuffer(b64u) {
    var s = b64u.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = window.atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toBase64URL(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return window.btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(pk) {
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return pk;
  }

  function requestOptions(pk) {
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return pk;
  }

  // credentialJSON turns a PublicKeyCredential into the JSON the server
  // reads (WebAuthn Level 3's RegistrationResponseJSON /
  // AuthenticationResponseJSON).
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64URL(cred.rawId),
      type: cred.type,
      clientExtensionResults: typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64URL(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) { out.authenticatorAttachment = cred.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = toBase64URL(r.attestationObject);
      if (typeof r.getTransports === "function") { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = toBase64URL(r.authenticatorData);
      out.response.signature = toBase64URL(r.signature);
      if (r.userHandle && r.userHandle.byteLength) { out.response.userHandle = toBase64URL(r.userHandle); }
    }
    return out;
  }

  // ServerError carries the translated detail of a problem+json answer.
  function ServerError(detail) { this.detail = detail; }

  function post(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      var type = res.headers.get("Content-Type") || "";
      if (type.indexOf("json") < 0) {
        // A page, not JSON: the session has ended and the server sent the
        // person to sign in again.
        if (res.redirected) { window.location.assign(res.url); }
        throw new ServerError("");
      }
      return res.json().then(function (data) {
        if (!res.ok) { throw new ServerError(data && data.detail ? data.detail : ""); }
        return data;
      });
    });
  }

  function showCodes(form, done) {
    var panel = document.getElementById(form.getAttribute("data-codes"));
    if (!panel) { window.location.assign(done.redirect); return; }
    var list = panel.querySelector("[data-webauthn-codes-list]");
    list.textContent = "";
    done.recovery_codes.forEach(function (code) {
      var li = document.createElement("li");
      li.textContent = code;
      list.appendChild(li);
    });
    panel.querySelector("[data-webauthn-continue]").setAttribute("href", done.redirect);
    // The codes take the place of the page, as after enrolling TOTP.
    var main = document.getElementById("main") || panel.parentNode;
    Array.prototype.forEach.call(main.children, function (el) { el.hidden = true; });
    main.appendChild(panel);
    panel.hidden = false;
    var heading = panel.querySelector("h1");
    if (heading) { heading.focus(); }
  }

  function setup(form) {
    var mode = form.getAttribute("data-webauthn");
    var button = form.querySelector("button[type=submit]");
    var nameInput = form.querySelector("[data-webauthn-name]");
    var errorBox = form.querySelector("[data-webauthn-error]");
    function msg(key) { return form.getAttribute("data-msg-" + key) || ""; }
    function showError(text) {
      errorBox.textContent = text || msg("failed");
      errorBox.hidden = false;
    }
    form.hidden = false;
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
      showError(msg("unsupported"));
      button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.hidden = true;
      errorBox.textContent = "";
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      post(form.getAttribute("data-begin"), {}).then(function (options) {
        if (mode === "register") {
          return navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
      }).then(function (cred) {
        if (!cred) { throw new ServerError(""); }
        var body = { credential: credentialJSON(cred) };
        if (mode === "register") { body.name = nameInput ? nameInput.value.trim() : ""; }
        return post(form.getAttribute("data-finish"), body);
      }).then(function (done) {
        if (done.recovery_codes && done.recovery_codes.length) {
          showCodes(form, done);
          return;
        }
        window.location.assign(done.redirect);
      }).catch(function (err) {
        button.disabled = false;
        form.removeAttribute("aria-busy");
        if (err instanceof ServerError) {
          showError(err.detail);
        } else if (err && err.name === "NotAllowedError") {
          showError(msg("cancelled"));
        } else if (err && err.name === "InvalidStateError") {
          showError(msg("duplicate"));
        } else if (err && err.name === "SecurityError") {
          showError(msg("security"));
        } else {
          showError(msg("failed"));
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-webauthn]").forEach(setup);
  });
})();

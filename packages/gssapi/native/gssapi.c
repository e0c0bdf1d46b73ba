/*
 * pop3d_gssapi: the acceptor side of MIT Kerberos GSS-API for Node (N-API). It exposes what RFC 4752 needs on a
 * server (acquire acceptor credentials, accept a context, wrap, unwrap) and nothing else: every Kerberos
 * operation, key and check stays in MIT's libgssapi_krb5. It keeps no process-wide state (the keytab goes to
 * gss_acquire_cred_from's credential store, never to KRB5_KTNAME), and every handle is freed by a finalizer.
 * All calls are synchronous: accepting reads the keytab and writes the replay cache; it never contacts a KDC.
 */
#include <node_api.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type tags so a credential handle is never taken for a context handle (or for anything else). */
static const napi_type_tag CRED_TAG = {0x706f703364677373ULL, 0x6170692d63726564ULL};
static const napi_type_tag CTX_TAG = {0x706f703364677373ULL, 0x6170692d63747820ULL};

/* Acceptor credentials; shared by the contexts made from them, freed when the last user lets go. */
typedef struct {
  gss_cred_id_t cred;
  unsigned refs;
} Cred;

/* One security context; `state` is 0 while establishing, 1 once established, 2 after an error or dispose. */
typedef struct {
  gss_ctx_id_t ctx;
  Cred *cred;
  int state;
} Ctx;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "GSSAPI_NAPI", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void cred_release(Cred *c) {
  OM_uint32 minor;
  if (--c->refs > 0) return;
  if (c->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &c->cred);
  free(c);
}

static void ctx_release(Ctx *c) {
  OM_uint32 minor;
  if (c->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &c->ctx, GSS_C_NO_BUFFER);
  if (c->cred != NULL) cred_release(c->cred);
  c->cred = NULL;
  c->state = 2;
}

static void cred_finalize(napi_env env, void *data, void *hint) { cred_release((Cred *)data); }

static void ctx_finalize(napi_env env, void *data, void *hint) {
  ctx_release((Ctx *)data);
  free(data);
}

/* Appends every message gss_display_status has for `code` of `type` to buf. */
static void append_status(char *buf, size_t size, OM_uint32 code, int type) {
  OM_uint32 minor, more = 0;
  do {
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
    if (GSS_ERROR(gss_display_status(&minor, code, type, gss_mech_krb5, &more, &text))) break;
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "%s%.*s", used > 0 ? ": " : "", (int)text.length, (const char *)text.value);
    gss_release_buffer(&minor, &text);
  } while (more != 0);
}

/* Throws an Error whose message is gss_display_status's text; `major`, `minor` and `operation` are properties. */
static napi_value throw_gss(napi_env env, const char *operation, OM_uint32 major, OM_uint32 minor) {
  char text[1024];
  snprintf(text, sizeof text, "%s", operation);
  append_status(text, sizeof text, major, GSS_C_GSS_CODE);
  if (minor != 0) append_status(text, sizeof text, minor, GSS_C_MECH_CODE);
  napi_value message, error, value;
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message));
  CHECK(napi_create_error(env, NULL, message, &error));
  CHECK(napi_create_uint32(env, major, &value));
  CHECK(napi_set_named_property(env, error, "major", value));
  CHECK(napi_create_uint32(env, minor, &value));
  CHECK(napi_set_named_property(env, error, "minor", value));
  CHECK(napi_create_string_utf8(env, operation, NAPI_AUTO_LENGTH, &value));
  CHECK(napi_set_named_property(env, error, "operation", value));
  napi_throw(env, error);
  return NULL;
}

/* A string argument as a malloc'd UTF-8 copy; NULL with *ok = 1 for null/undefined, NULL with *ok = 0 if invalid. */
static char *string_arg(napi_env env, napi_value value, int *ok) {
  napi_valuetype type;
  size_t length;
  *ok = 0;
  if (napi_typeof(env, value, &type) != napi_ok) return NULL;
  if (type == napi_null || type == napi_undefined) {
    *ok = 1;
    return NULL;
  }
  if (type != napi_string || napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *s = malloc(length + 1);
  if (s == NULL || napi_get_value_string_utf8(env, value, s, length + 1, &length) != napi_ok) {
    free(s);
    return NULL;
  }
  *ok = 1;
  return s;
}

/* The bytes of a Uint8Array (a Buffer is one) argument. */
static int bytes_arg(napi_env env, napi_value value, gss_buffer_desc *out) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return 0;
  }
  out->length = length;
  out->value = data;
  return 1;
}

static void *unwrap_tagged(napi_env env, napi_value value, const napi_type_tag *tag, const char *what) {
  bool matches = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, value, tag, &matches) != napi_ok || !matches ||
      napi_get_value_external(env, value, &data) != napi_ok) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return data;
}

/* The context handle in `value` if it is in `want_state`; else NULL with an exception pending. */
static Ctx *ctx_arg(napi_env env, napi_value value, int want_state) {
  Ctx *c = unwrap_tagged(env, value, &CTX_TAG, "expected a GSS context handle");
  if (c == NULL) return NULL;
  if (c->state != want_state) {
    napi_throw_error(env, "GSSAPI_STATE",
                     c->state == 2   ? "the GSS context has failed or was disposed"
                     : want_state == 1 ? "the GSS context is not established yet"
                                       : "the GSS context is already established");
    return NULL;
  }
  return c;
}

static napi_value bytes_value(napi_env env, const gss_buffer_desc *buf) {
  napi_value out;
  void *copy;
  CHECK(napi_create_buffer_copy(env, buf->length, buf->length > 0 ? buf->value : "", &copy, &out));
  return out;
}

/* acquire(principal: string | null, keytab: string | null) → credential handle (acceptor, Kerberos V5 only). */
static napi_value acquire(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int ok_principal, ok_keytab;
  char *principal = argc > 0 ? string_arg(env, argv[0], &ok_principal) : (ok_principal = 1, NULL);
  char *keytab = argc > 1 ? string_arg(env, argv[1], &ok_keytab) : (ok_keytab = 1, NULL);
  if (!ok_principal || !ok_keytab) {
    free(principal);
    free(keytab);
    napi_throw_type_error(env, NULL, "acquire(principal: string | null, keytab: string | null)");
    return NULL;
  }
  OM_uint32 major, minor = 0;
  gss_name_t name = GSS_C_NO_NAME;
  if (principal != NULL) {
    /* "pop@host" is a host-based service name; "pop/host@REALM" is a Kerberos principal name. */
    gss_buffer_desc text = {strlen(principal), principal};
    gss_OID type = strchr(principal, '/') != NULL ? (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME : GSS_C_NT_HOSTBASED_SERVICE;
    major = gss_import_name(&minor, &text, type, &name);
    free(principal);
    if (GSS_ERROR(major)) {
      free(keytab);
      return throw_gss(env, "gss_import_name", major, minor);
    }
  }
  gss_OID_set_desc mechs = {1, gss_mech_krb5};
  gss_key_value_element_desc element = {"keytab", keytab};
  gss_key_value_set_desc store = {1, &element};
  Cred *c = calloc(1, sizeof *c);
  if (c == NULL) {
    free(keytab);
    gss_release_name(&minor, &name);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
                                keytab != NULL ? &store : GSS_C_NO_CRED_STORE, &c->cred, NULL, NULL);
  OM_uint32 ignored;
  gss_release_name(&ignored, &name);
  free(keytab);
  if (GSS_ERROR(major)) {
    free(c);
    return throw_gss(env, "gss_acquire_cred_from", major, minor);
  }
  c->refs = 1;
  if (napi_create_external(env, c, cred_finalize, NULL, &result) != napi_ok) {
    cred_release(c);
    napi_throw_error(env, "GSSAPI_NAPI", "napi_create_external failed");
    return NULL;
  }
  CHECK(napi_type_tag_object(env, result, &CRED_TAG));
  return result;
}

/* context(credential) → a new, empty security context handle using those credentials. */
static napi_value context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return (napi_throw_type_error(env, NULL, "context(credential)"), NULL);
  Cred *cred = unwrap_tagged(env, argv[0], &CRED_TAG, "expected a GSS credential handle");
  if (cred == NULL) return NULL;
  Ctx *c = calloc(1, sizeof *c);
  if (c == NULL) return (napi_throw_error(env, "ENOMEM", "out of memory"), NULL);
  c->ctx = GSS_C_NO_CONTEXT;
  c->cred = cred;
  cred->refs++;
  if (napi_create_external(env, c, ctx_finalize, NULL, &result) != napi_ok) {
    ctx_finalize(env, c, NULL);
    napi_throw_error(env, "GSSAPI_NAPI", "napi_create_external failed");
    return NULL;
  }
  CHECK(napi_type_tag_object(env, result, &CTX_TAG));
  return result;
}

/* accept(context, token) → { complete, token, name, flags }; name is the initiator once complete, else null. */
static napi_value accept(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result, value;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return (napi_throw_type_error(env, NULL, "accept(context, token)"), NULL);
  Ctx *c = ctx_arg(env, argv[0], 0);
  gss_buffer_desc input;
  if (c == NULL || !bytes_arg(env, argv[1], &input)) return NULL;
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  gss_name_t source = GSS_C_NO_NAME;
  OM_uint32 minor = 0, ignored, flags = 0;
  OM_uint32 major = gss_accept_sec_context(&minor, &c->ctx, c->cred->cred, &input, GSS_C_NO_CHANNEL_BINDINGS,
                                           &source, NULL, &output, &flags, NULL, NULL);
  if (GSS_ERROR(major)) {
    /* RFC 4752 has no way to carry an error token: drop it, and the context with it. */
    gss_release_buffer(&ignored, &output);
    gss_release_name(&ignored, &source);
    ctx_release(c);
    return throw_gss(env, "gss_accept_sec_context", major, minor);
  }
  int complete = major == GSS_S_COMPLETE;
  napi_value name;
  CHECK(napi_get_null(env, &name));
  if (complete) {
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
    major = gss_display_name(&minor, source, &text, NULL);
    if (GSS_ERROR(major)) {
      gss_release_buffer(&ignored, &output);
      gss_release_name(&ignored, &source);
      ctx_release(c);
      return throw_gss(env, "gss_display_name", major, minor);
    }
    napi_status status = napi_create_string_utf8(env, text.value, text.length, &name);
    gss_release_buffer(&ignored, &text);
    if (status != napi_ok) name = NULL;
    c->state = 1;
  }
  gss_release_name(&ignored, &source);
  napi_value token = bytes_value(env, &output);
  gss_release_buffer(&ignored, &output);
  if (name == NULL || token == NULL) return NULL;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_get_boolean(env, complete, &value));
  CHECK(napi_set_named_property(env, result, "complete", value));
  CHECK(napi_set_named_property(env, result, "token", token));
  CHECK(napi_set_named_property(env, result, "name", name));
  CHECK(napi_create_uint32(env, flags, &value));
  CHECK(napi_set_named_property(env, result, "flags", value));
  return result;
}

/* wrap(context, message, conf) → token: GSS_Wrap, sealed only when conf is true. */
static napi_value wrap(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return (napi_throw_type_error(env, NULL, "wrap(context, message, conf)"), NULL);
  Ctx *c = ctx_arg(env, argv[0], 1);
  gss_buffer_desc input;
  bool conf = false;
  if (c == NULL || !bytes_arg(env, argv[1], &input)) return NULL;
  if (napi_get_value_bool(env, argv[2], &conf) != napi_ok) return (napi_throw_type_error(env, NULL, "conf must be a boolean"), NULL);
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  OM_uint32 minor = 0, ignored;
  OM_uint32 major = gss_wrap(&minor, c->ctx, conf, GSS_C_QOP_DEFAULT, &input, NULL, &output);
  if (GSS_ERROR(major)) return throw_gss(env, "gss_wrap", major, minor);
  napi_value token = bytes_value(env, &output);
  gss_release_buffer(&ignored, &output);
  return token;
}

/* unwrap(context, token) → { data, conf }: GSS_Unwrap; conf tells whether the token was sealed. */
static napi_value unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result, value;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return (napi_throw_type_error(env, NULL, "unwrap(context, token)"), NULL);
  Ctx *c = ctx_arg(env, argv[0], 1);
  gss_buffer_desc input;
  if (c == NULL || !bytes_arg(env, argv[1], &input)) return NULL;
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  OM_uint32 minor = 0, ignored;
  int conf = 0;
  OM_uint32 major = gss_unwrap(&minor, c->ctx, &input, &output, &conf, NULL);
  if (GSS_ERROR(major)) return throw_gss(env, "gss_unwrap", major, minor);
  napi_value data = bytes_value(env, &output);
  gss_release_buffer(&ignored, &output);
  if (data == NULL) return NULL;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "data", data));
  CHECK(napi_get_boolean(env, conf != 0, &value));
  CHECK(napi_set_named_property(env, result, "conf", value));
  return result;
}

/* dispose(context): deletes the security context now instead of at garbage collection. */
static napi_value dispose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return (napi_throw_type_error(env, NULL, "dispose(context)"), NULL);
  Ctx *c = unwrap_tagged(env, argv[0], &CTX_TAG, "expected a GSS context handle");
  if (c == NULL) return NULL;
  ctx_release(c);
  return NULL;
}

/* defaultRealm() → the default realm of the Kerberos configuration (krb5.conf / KRB5_CONFIG). */
static napi_value default_realm(napi_env env, napi_callback_info info) {
  krb5_context k5;
  char *realm = NULL;
  napi_value result;
  krb5_error_code code = krb5_init_context(&k5);
  if (code != 0) {
    napi_throw_error(env, "KRB5", "krb5_init_context failed");
    return NULL;
  }
  code = krb5_get_default_realm(k5, &realm);
  if (code != 0) {
    const char *text = krb5_get_error_message(k5, code);
    char message[512];
    snprintf(message, sizeof message, "krb5_get_default_realm: %s", text);
    krb5_free_error_message(k5, text);
    krb5_free_context(k5);
    napi_throw_error(env, "KRB5", message);
    return NULL;
  }
  napi_status status = napi_create_string_utf8(env, realm, NAPI_AUTO_LENGTH, &result);
  krb5_free_default_realm(k5, realm);
  krb5_free_context(k5);
  return status == napi_ok ? result : NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    {"acquire", NULL, acquire, NULL, NULL, NULL, napi_enumerable, NULL},
    {"context", NULL, context, NULL, NULL, NULL, napi_enumerable, NULL},
    {"accept", NULL, accept, NULL, NULL, NULL, napi_enumerable, NULL},
    {"wrap", NULL, wrap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unwrap", NULL, unwrap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dispose", NULL, dispose, NULL, NULL, NULL, napi_enumerable, NULL},
    {"defaultRealm", NULL, default_realm, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

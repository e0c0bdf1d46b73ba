{
  "targets": [
    {
      "target_name": "pop3d_gssapi",
      "sources": ["native/gssapi.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["<!@(krb5-config --cflags gssapi)", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["<!@(krb5-config --libs gssapi)"]
    }
  ]
}

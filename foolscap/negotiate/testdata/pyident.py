"""Identity helper for the Go tests; run with /usr/bin/python3.

  pyident.py tub-create PATH     Tub(certFile=PATH) creates PATH; prints the tubid
  pyident.py tub-load PATH       Tub(certFile=PATH) loads PATH; prints the tubid
  pyident.py legacy PATH         writes a pre-0.8 style identity (1024-bit RSA,
                                 MD5-signed, PKCS#1 key first); prints its tubid
"""
import sys

from foolscap import crypto
from foolscap.api import Tub


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd in ("tub-create", "tub-load"):
        print(Tub(certFile=path).getTubID())
    elif cmd == "legacy":
        from OpenSSL import crypto as oc
        key = oc.PKey()
        key.generate_key(oc.TYPE_RSA, 1024)
        cert = oc.X509()
        cert.get_subject().CN = "newpb_thingy"
        cert.set_issuer(cert.get_subject())
        cert.set_pubkey(key)
        cert.set_serial_number(1)
        cert.gmtime_adj_notBefore(0)
        cert.gmtime_adj_notAfter(365 * 24 * 3600)
        cert.sign(key, "md5")
        pkcs1 = oc.dump_privatekey(oc.FILETYPE_PEM, key)
        if b"BEGIN PRIVATE KEY" in pkcs1:
            from cryptography.hazmat.primitives import serialization
            pkcs1 = key.to_cryptography_key().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption())
        with open(path, "wb") as f:
            f.write(pkcs1 + oc.dump_certificate(oc.FILETYPE_PEM, cert))
        print(crypto.digest32(cert.digest("sha1")))
    else:
        raise SystemExit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()

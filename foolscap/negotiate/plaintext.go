package negotiate

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// The server's success reply (negotiate.sendPlaintextServerAndStartENCRYPTED).
const switchingProtocols = "HTTP/1.1 101 Switching Protocols\r\n" +
	"Upgrade: TLS/1.0, PB/1.0\r\n" +
	"Connection: Upgrade\r\n" +
	"\r\n"

// clientRequest is the GET the TCP client sends (sendPlaintextClient).
// host is the hint's host, IPv6 brackets removed.
func clientRequest(targetTubID, host string) []byte {
	return fmt.Appendf(nil, "GET /id/%s HTTP/1.1\r\nHost: %s\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n", targetTubID, host)
}

// errorReply is the server's reply to a request it refuses.
func errorReply(msg string) []byte {
	return fmt.Appendf(nil, "HTTP/1.1 500 Internal Server Error: %s\r\n\r\n", msg)
}

// parseRequest extracts the requested tubid from a GET header
// (handlePLAINTEXTServer). Lookup of the tubid is the caller's.
func parseRequest(hdr []byte) (string, *failure) {
	first, _, _ := bytes.Cut(hdr, []byte("\r\n"))
	if !bytes.HasPrefix(first, []byte("GET ")) {
		return "", internalError(ErrMalformed, "not right", "request is not a GET: "+quote(first))
	}
	f := asciiFields(first)
	if len(f) != 3 {
		return "", internalError(ErrMalformed, "not enough values to unpack", "request line does not have 3 fields: "+quote(first))
	}
	url := f[1]
	if !bytes.HasPrefix(url, []byte("/id/")) {
		return "", internalError(ErrMalformed, "not right", "request path is not /id/TUBID: "+quote(first))
	}
	tubid := url[len("/id/"):]
	if !utf8.Valid(tubid) {
		return "", internalError(ErrMalformed, "invalid utf-8", "requested tubid is not UTF-8: "+quote(tubid))
	}
	if len(tubid) == 0 {
		return "", negotiationError(ErrEncryptionRequired, "secure Tubs require encryption")
	}
	return string(tubid), nil
}

// parseResponse checks the server's reply to our GET (handlePLAINTEXTClient).
func parseResponse(hdr []byte) *failure {
	first, _, _ := bytes.Cut(hdr, []byte("\r\n"))
	f := asciiFields(first)
	if len(f) < 2 {
		return internalError(ErrMalformed, "list index out of range", "reply is not HTTP: "+quote(first))
	}
	if string(f[1]) != "101" {
		return internalError(ErrRefused, fmt.Sprintf("not right, got '%s', expected 101 Switching Protocols", first), "server replied "+quote(first))
	}
	if !bytes.Contains(hdr, []byte("Upgrade: TLS/1.0")) {
		return internalError(ErrMalformed, "header didn't contain TLS upgrade", "101 reply without Upgrade: TLS/1.0: "+quote(hdr))
	}
	return nil
}

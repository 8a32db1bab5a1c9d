// Package headers formats the header fields of an Internet message so that
// what an administrator typed arrives intact and nothing can be smuggled
// through it.
//
// It provides:
//
//   - address lists as administrators type them (ParseAddressList): commas
//     and semicolons both separate entries, quoted display names keep their
//     commas, internationalized domain names are converted to A-labels
//     (RFC 5890/5891, via golang.org/x/net/idna) and a UTF-8 local part is
//     flagged as needing SMTPUTF8 (RFC 6531, RFC 6532);
//   - RFC 2047 encoded words for unstructured text and display names
//     (EncodeText, EncodePhrase), choosing Q or B encoding by length and
//     splitting only on rune boundaries;
//   - field-name and field-value checks (RFC 5322 section 2.2 and 3.6.8) and
//     folding (RFC 5322 section 2.2.3) that never changes a value and never
//     produces a line over 998 octets (FormatField);
//   - the Priority, Importance and Sensitivity fields that Outlook, Exchange
//     and Thunderbird display (RFC 2156, [MS-OXCMAIL] section 2.2.3.2).
//
// Every error wraps one of the Err* sentinels (test with errors.Is); errors
// about a particular field or address-list entry are a *FieldError or an
// *AddressError naming it (use errors.As). Error texts quote what they name,
// so a hostile value cannot forge a log line.
//
// Out of scope: parsing received messages (use github.com/emersion/go-message),
// group syntax ("undisclosed-recipients:;"), quoted local parts and address
// literals ("user@[192.0.2.1]"), which are refused with a clear error.
package headers

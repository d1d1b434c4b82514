// Package trace is the traceability lookup of the hotline: a caller keys in
// the trace code printed on a meat or vegetable package and hears where it
// came from.
//
//   - Codes (code.go): digits with a GS1 mod-10 check digit; CodeRules.Validate
//     tells a mistyped code at once (ErrCodeChars, ErrCodeLength, ErrCodeCheckDigit).
//   - Records (record.go): product, batch, origin, processing, inspection,
//     wholesale market, retailer, dates and quantity, texts in Chinese and English.
//   - Lookup (catalog.go, httpclient.go): the local catalog in PostgreSQL
//     (PGCatalog, table trace_records) or an external traceability platform
//     (HTTPClient); both answer ErrNotFound or ErrUnavailable.
//   - CSV import (csvimport.go): a whole file in one transaction, or nothing
//     with the line and field at fault.
//   - Sample data (generate.go) and the read-out variables a flow speaks
//     (readout.go).
package trace

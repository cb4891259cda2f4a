module github.com/spooldb/spool/examples/sqlite-offsets

go 1.26.8

require (
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/spooldb/spool v0.0.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/spooldb/spool => ../..

package main

// rowScanner is what pgx's rows and database/sql's rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
}

// eachRow reads rows of (id, value), calls fn with each value and leaves
// the last id in last; it returns how many rows it read. V is the type the
// driver scans a value into best.
func eachRow[V ~[]byte](rows rowScanner, last *int64, fn func([]byte)) (int, error) {
	n := 0
	var v V
	for rows.Next() {
		if err := rows.Scan(last, &v); err != nil {
			return n, err
		}
		fn([]byte(v))
		n++
	}
	return n, nil
}

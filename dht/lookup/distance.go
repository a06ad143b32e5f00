package lookup

// Distance returns the XOR distance between a and b.
func Distance(a, b [20]byte) [20]byte {
	var d [20]byte
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// compare orders two distances.
func compare(a, b [20]byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

package aggregate

// hugeMin is the smallest table hugePages advises (see hugepages_linux.go).
const hugeMin = 64 << 20

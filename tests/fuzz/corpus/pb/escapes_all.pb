C"q\b/
	Zx
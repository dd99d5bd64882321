# want: 2:9 Argument or block definition required
target {{ registry = "x" }

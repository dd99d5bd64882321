# want: 2:8 Missing required argument
target {
}

# want: 1:1 Missing target block
discover {}

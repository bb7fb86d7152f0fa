module github.com/wick-ml/wick

go 1.25

require github.com/x448/float16 v0.8.4

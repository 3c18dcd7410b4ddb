C9ˆÌ°Õª3 j
affluent€ð¹¹Þ$RM-77"line
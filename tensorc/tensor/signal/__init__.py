"""`tensorc.tensor.signal`: Theano's pooling modules (`pool`, and the older
`downsample`)."""

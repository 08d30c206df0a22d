FROM scratch
COPY <<EOF /hello
hi
EOF

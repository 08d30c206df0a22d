FROM scratch
COPY --chmod=0755 --link a /a

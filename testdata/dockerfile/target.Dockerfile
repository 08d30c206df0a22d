FROM scratch AS b
ARG X=1
FROM scratch AS a
LABEL a=1

ARG BASE=scratch
FROM $BASE
ARG FILE=/usr/local/lib/app.tar.gz
ENV A=${FILE##*/} B=${FILE%%.*} C=${FILE#*/} D=${FILE%.*}
ENV E=${FILE/lib/share} F=${FILE//\//_} G=${UNSET:-dflt} H=${FILE:+set} I=${UNSET-x} J='$FILE' K="q $FILE"
ENV L=$A
WORKDIR ${UNSET:-/srv}/app
LABEL "key with space"="v" legacy=1
ENV legacy value with spaces

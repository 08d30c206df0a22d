FROM scratch
COPY *.txt dir/ /dst/
COPY nomatch-*.bin /dst/
ADD ["dir/[ab].tar", "/archives/"]

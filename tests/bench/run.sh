echo "no benchmark yet"

package main

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/chromedp/chromedp"
	_ "github.com/creack/pty"
	_ "github.com/emersion/go-smtp"
	_ "github.com/gin-gonic/gin"
	_ "github.com/go-pdf/fpdf"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/shopspring/decimal"
	_ "github.com/skip2/go-qrcode"
	_ "github.com/stripe/stripe-go/v76"
	_ "go.bug.st/serial"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/text/encoding/charmap"
)

func main() {}

package staff

import "github.com/gin-gonic/gin"

// mountKiosk registers the kiosk screens in the staff group (session,
// CSRF and user already loaded): the cashier screen, cash top-ups and their
// printed receipts, the drawer closing, the Z-report, and cash remittances
// to the bank with their printed slips.
func (w *Web) mountKiosk(a gin.IRouter) {
	a.GET("/kiosk/:code", w.kioskPage)
	a.POST("/kiosk/:code/topups", w.kioskTopUpPost)
	a.GET("/kiosk/:code/receipts/:ref", w.kioskReceipt)
	a.POST("/kiosk/:code/receipts/:ref/void", w.kioskVoidPost) // kiosk_void.go
	a.GET("/kiosk/:code/close", w.kioskClosePage)
	a.POST("/kiosk/:code/close", w.kioskClosePost)
	a.GET("/kiosk/:code/closings/:id", w.kioskClosingPage)
	a.GET("/kiosk/:code/z", w.kioskZReport)
	a.GET("/kiosk/:code/remit", w.kioskRemitPage)
	a.POST("/kiosk/:code/remit", w.kioskRemitPost)
	a.GET("/kiosk/:code/remittances/:ref", w.kioskRemitSlip)
}

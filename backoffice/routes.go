package backoffice

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"tartine/internal/websession"
	"tartine/school"
)

// Mount registers the back office under /admin (session middleware with
// CSRF protection, staff authentication, roles) and its static files, plus
// /staff/admin, an older landing address after the staff login, that
// redirects to /admin.
func (a *App) Mount(r gin.IRouter) {
	// Each route or group names its policy (websession.SchoolAdmin …): see
	// internal/websession/policy.go. A route added to ad or ac inherits it.
	sub, _ := fs.Sub(staticFS, "static")
	websession.StaticFS(r, "/admin/static", sub)
	r.GET("/staff/admin", websession.Public, func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/admin") })

	g := r.Group("/admin", websession.SecurityHeaders(), a.limitUpload, a.Sessions.Middleware(), a.requireStaff)
	g.GET("", websession.BackOffice, a.requireAny, a.home)
	g.GET("/", websession.BackOffice, a.requireAny, a.home)
	g.POST("/lang", websession.Staff, a.setLang)

	ad := g.Group("", a.require(school.RoleAdmin), websession.SchoolAdmin)
	ad.GET("/pupils", a.pupils)
	ad.GET("/pupils/import", a.pupilsImportPage)
	ad.POST("/pupils/import", websession.Upload, a.pupilsImport)
	ad.GET("/pupils/new", a.newPupilPage)
	ad.POST("/pupils/new", a.savePupil)
	ad.GET("/pupils/:id", a.pupil)
	ad.GET("/pupils/:id/edit", a.editPupilPage)
	ad.POST("/pupils/:id/edit", a.savePupil)
	ad.POST("/pupils/:id/badges", a.assignBadge)
	ad.POST("/pupils/:id/badges/qr", a.newQRBadge)
	ad.POST("/pupils/:id/badges/:badge/status", a.badgeStatus)
	ad.POST("/pupils/:id/guardians", a.guardianAdd)                             // pupils_guardians.go
	ad.GET("/pupils/:id/guardians/:guardian", a.guardianShow)                   // pupils_guardians.go
	ad.POST("/pupils/:id/guardians/:guardian", a.guardianSave)                  // pupils_guardians.go
	ad.POST("/pupils/:id/guardians/:guardian/statements", a.guardianStatements) // pupils_guardians.go
	ad.POST("/pupils/:id/guardians/:guardian/unlink", a.guardianUnlink)         // pupils_guardians.go
	ad.POST("/pupils/:id/leave", a.leavePupil)                                  // pupils_leave.go
	ad.POST("/pupils/:id/balance", a.settleBalance)                             // pupils_leave.go
	ad.POST("/pupils/:id/photo", websession.Upload, a.savePhoto)                // pupils_photo.go
	ad.POST("/retention", a.saveRetention)                                      // pupils_leave.go, organising-body admins only
	ad.GET("/schools/:school/badges.pdf", a.badgeSheet)
	ad.GET("/devices", a.devices)
	ad.POST("/devices", a.enrolDevice)
	ad.POST("/devices/:device/revoke", a.revokeDevice)
	ad.GET("/stations", a.stations)
	ad.POST("/stations", a.saveStation)
	ad.GET("/calendar", a.calendar)
	ad.POST("/calendar/closed", a.addClosedDay)
	ad.POST("/calendar/open", a.removeClosedDay)
	ad.GET("/menus", a.menus)
	ad.GET("/kitchen", a.kitchen)        // kitchen.go
	ad.GET("/kitchen.csv", a.kitchenCSV) // kitchen.go
	ad.POST("/menus", a.saveMenu)
	ad.GET("/tariffs", a.tariffs)
	ad.POST("/tariffs/meal", a.addMealTariff)
	ad.POST("/tariffs/daycare", a.addDaycareTariff)
	ad.POST("/tariffs/meal/:id/end", a.endMealTariff)
	ad.POST("/tariffs/daycare/:id/end", a.endDaycareTariff)
	ad.POST("/tariffs/meal/:id/cancel-bookings", a.cancelMealBookings)
	ad.POST("/tariffs/daycare/:id/cancel-bookings", a.cancelDaycareBookings)
	ad.GET("/policy", a.policy)
	ad.POST("/policy", a.savePolicy)
	ad.GET("/fees", a.feesList)
	ad.POST("/fees", a.createFee)
	ad.GET("/fees/rules", a.feeRules)
	ad.POST("/fees/rules", a.saveFeeRules) // organising-body admins only (checked in the handler)
	ad.GET("/fees/caps", a.feeCaps)
	ad.GET("/fees/:id", a.feePage)
	ad.POST("/fees/:id/assign", a.assignFee)
	ad.POST("/fees/:id/correct", a.correctFee)
	ad.POST("/fees/:id/cancel", a.cancelFee)
	ad.POST("/fees/:id/opt-in", a.recordOptIn)
	ad.POST("/fees/:id/lines/:line/credit", a.creditFeeLine)
	ad.GET("/audit", a.audit)
	ad.GET("/staff", a.staffList)
	ad.POST("/staff", a.createStaff)
	ad.GET("/staff/:id", a.staffMemberPage)
	ad.POST("/staff/:id/profile", a.setStaffProfile)
	ad.POST("/staff/:id/roles", a.setStaffRoles)
	ad.POST("/staff/:id/active", a.setStaffActive)
	ad.POST("/staff/:id/password", a.newStaffPassword)

	ac := g.Group("/books", a.require(school.RoleAccountant), websession.Books)
	ac.GET("", a.trialBalance)
	ac.GET("/journal.csv", a.journalCSV)
	ac.GET("/verify", a.verify)
	ac.POST("/close", a.closePeriod)
	ac.GET("/bank", a.bankPage)
	ac.POST("/bank/import", websession.Upload, a.importCODA)
	ac.POST("/bank/allocate", a.allocateBankLine)
	ac.POST("/bank/payout", a.allocatePayout)
	ac.POST("/bank/remittance", a.allocateRemittance)
	ac.GET("/bank/stripe-reviews", a.stripeReviewsPage)
	ac.GET("/refunds", a.refunds) // refunds.go
	ac.POST("/refunds", a.requestRefund)
	ac.POST("/refunds/approve", a.approveRefunds)
	ac.GET("/refunds/batches/:id/pain001.xml", a.refundFile)
	ac.POST("/bank/stripe-reviews/dismiss", a.dismissStripeReview)
	a.mountStatements(ad, ac) // statements_books.go
	a.mountAccounts(ac)       // books_accounts.go
	a.mountTaxCert(ad)        // taxcert.go
	a.mountStripeCheck(ac)    // books_stripe.go
	a.mountFreeMeals(ac)      // freemeals.go
}

// MountLetters serves the portal's invitation letters page at /admin/letters
// behind the staff session and the admin role (the page itself lives in
// package portal, which renders the letters).
func (a *App) MountLetters(r gin.IRouter, letters gin.HandlerFunc) {
	g := r.Group("/admin/letters", websession.SecurityHeaders(), a.Sessions.Middleware(), a.requireStaff, a.require(school.RoleAdmin), websession.SchoolAdmin)
	g.GET("", letters)
	g.POST("", letters)
}
